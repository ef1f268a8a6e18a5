/* Prints the message reference of docs/protocol.md from messages.def, so
 * the document cannot drift from the table (ctest proto.doc_current). */
#include "shunt/proto.h"

#include <stdio.h>

#define W_U8 "u8"
#define W_U16 "u16 LE"
#define W_U32 "u32 LE"
#define W_U64 "u64 LE"
#define W_I32 "i32 LE"
#define W_I64 "i64 LE"
#define W_STR "str (u32 length + bytes, no NUL)"
#define W_BYTES "bytes (u32 length + bytes)"

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: shunt-proto-doc\n"
                        "Prints the generated message reference (markdown).\n");
        return 2;
    }
    printf("| type | id | kind | answered by |\n|---|---|---|---|\n");
    for (size_t i = 0; i < shunt_msg_type_count; i++) {
        const shunt_msg_info_t *m = shunt_msg_info(shunt_msg_types[i]);
        printf("| [`%s`](#%s) | 0x%04x | %s | ", m->name, m->lname, m->type,
               m->kind == SHUNT_KIND_REQUEST  ? "request"
               : m->kind == SHUNT_KIND_ANSWER ? "answer"
                                              : "one-way, both");
        for (unsigned k = 0; k < m->nanswers; k++)
            printf("`%s`, ", shunt_msg_name(m->answers[k]));
        printf("%s |\n", m->kind == SHUNT_KIND_REQUEST ? "`ERROR`" : "");
    }

#define REC(l) printf("\n#### record `%s`\n\n| field | wire type |\n|---|---|\n", #l);
#define MSG(NAME, id, l, what)                                             \
    printf("\n#### `%s` (0x%04x) <a name=\"%s\"></a>\n\n"                  \
           "| field | wire type |\n|---|---|\n", #NAME, id, #l);
#define F(K, n) printf("| `%s` | %s |\n", #n, W_##K);
#define L(r, n)                                                            \
    printf("| `%s` | list of `%s` (u32 count, u32 byte length, records) |\n", \
           #n, #r);
#define END(l)
#include "messages.def"
#include "messages_end.h"
    return 0;
}
