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
    printf("| type | id | direction |\n|---|---|---|\n");
#define REC(l)
#define MSG(NAME, id, l)                                                   \
    printf("| [`%s`](#%s) | 0x%04x | %s |\n", #NAME, #l, id,             \
           shunt_msg_is_oneway(id)                                         \
               ? "one-way, both"                                           \
               : (shunt_msg_is_response(id) ? "response" : "request"));
#define F(K, n)
#define L(r, n)
#define END(l)
#include "messages.def"
#include "messages_end.h"

#define REC(l) printf("\n#### record `%s`\n\n| field | wire type |\n|---|---|\n", #l);
#define MSG(NAME, id, l)                                                   \
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
