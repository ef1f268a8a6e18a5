/* Reading code with the engine's decoder: the one way the layer and the
 * engine recognise instructions (no byte-pattern scans beside capstone). */
#ifndef SHUNT_INSN_H
#define SHUNT_INSN_H

#include <capstone/capstone.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes code (which lives at addr; at most len bytes) one instruction at a
 * time with the engine's shared decoder (detail on, capstone's allocator as
 * the layer set it), and calls fn for each until fn returns nonzero.  The
 * walk ends there, after len bytes, or at the first byte that does not
 * decode.  Returns fn's nonzero value, 0, or -1 when no decoder opens. */
int shunt_insn_each(const uint8_t *code, size_t len, uint64_t addr,
                    int (*fn)(const cs_insn *in, void *arg), void *arg);

/* Nonzero on a thread while the engine's shared decoder works (inside
 * shunt_insn_each and shunt_relocate): nothing reads the decoder's text
 * then (messages name instructions with cs_insn_name), so a vsnprintf given
 * to capstone with CS_OPT_MEM may write nothing and return 0 -- printing
 * the text is most of capstone's time when detail is off (the layer's
 * start-up: docs/benchmarks.md). */
extern __thread int shunt_insn_quiet;

/* The operand an instruction writes (its destination) and the one it only
 * reads (its source), whatever the decoder's syntax orders them; NULL when
 * there is none. */
const cs_x86_op *shunt_insn_dst(const cs_insn *in);
const cs_x86_op *shunt_insn_src(const cs_insn *in);

/* mov of the immediate imm into register reg (e.g. mov $0x101,%eax). */
int shunt_insn_is_mov_imm(const cs_insn *in, x86_reg reg, int64_t imm);
/* mov of register reg to the memory at disp(base), no index. */
int shunt_insn_is_store(const cs_insn *in, x86_reg reg, x86_reg base,
                        int64_t disp);
/* The target of a call rel32 (E8), or 0. */
uint64_t shunt_insn_call_rel32(const cs_insn *in);

#endif
