#!/usr/bin/env bash
# ctest fuzz.campaign_crashes: ci/fuzz's crash path and --corpus, with
# stand-in fuzz programs (SHUNT_FUZZ_BINDIR) that behave as libFuzzer's:
# fuzz_proto_decode leaves three crash inputs (two with the same stack,
# in different pids, addresses and lines) and a timeout; each crash input
# replayed alone prints its own report.  fuzz_relocator finds nothing and
# adds one input to its corpus per run.  Every input must be kept with a
# reproduce line, the table must count distinct crashes, summary.txt/json
# must group them, and DIR/relocator must be seeded from the tree once and
# then grow run after run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- ci/fuzz output:"; cat "$tmp/log"; exit 1; }
mkdir -p "$tmp/bin"
cat >"$tmp/bin/stub" <<'SH'
#!/usr/bin/env bash
prefix= pos=()
for a; do
  case $a in -artifact_prefix=*) prefix=${a#*=} ;; -*) ;; *) pos+=("$a") ;; esac
done
report() {
  case $1 in
    A*) f=(get_u32 shunt_decode read_frame LLVMFuzzerTestOneInput) ;;
    *) f=(put_u32 shunt_encode LLVMFuzzerTestOneInput) ;;
  esac
  echo "==$$==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020$RANDOM at pc 0x55$RANDOM bp 0x1 sp 0x2"
  echo "READ of size 1 at 0x6020$RANDOM thread T0"
  for i in "${!f[@]}"; do echo "    #$i 0x55$RANDOM$i in ${f[$i]} /src/shunt/proto/codec.c:$RANDOM:$i"; done
  echo "SUMMARY: AddressSanitizer: heap-buffer-overflow"
}
name=$(basename "$0")
if [ -z "$prefix" ]; then           # replay of one input
  report "$(cat "${pos[0]}")"
  exit 1
fi
echo "#2	INITED cov: 10 ft: 20 corp: 1/1b exec/s: 0 rss: 30Mb"
echo "stub $RANDOM$RANDOM" >"${pos[0]}/stub-$RANDOM$RANDOM$RANDOM"
if [ "$name" = fuzz_relocator ]; then
  echo "stat::average_exec_per_sec: 777"; echo "stat::new_units_added: 1"
  exit 0
fi
printf 'AAAA' >"${prefix}crash-one"
printf 'AB' >"${prefix}crash-two"
printf 'BBBBBBB' >"${prefix}crash-three"
printf 'T' >"${prefix}timeout-four"
report AAAA
echo "artifact_prefix='$prefix'; Test unit written to ${prefix}crash-one"
echo "stat::average_exec_per_sec: 1234"; echo "stat::new_units_added: 0"
exit 1
SH
chmod +x "$tmp/bin/stub"
ln -s stub "$tmp/bin/fuzz_proto_decode"
ln -s stub "$tmp/bin/fuzz_relocator"
run() {
  SHUNT_FUZZ_BINDIR=$tmp/bin "$root/ci/fuzz" --no-build --no-coverage --no-merge --no-diff \
    --minutes 0.1 --target proto_decode --target relocator --corpus "$tmp/corp" \
    --out "$tmp/out$1" >"$tmp/log" 2>&1
}
run 1
rc=$?
[ "$rc" = 1 ] || fail "exit $rc, want 1 (crashes)"
grep -Eq '^proto_decode +1234 +10 +20 +0 +3 \(4 in\) +FAILED' "$tmp/log" || fail "proto_decode row"
grep -Eq '^relocator +777 +10 +20 +1 +0 +ok$' "$tmp/log" || fail "relocator row"
c=$tmp/out1/crashes
for f in crash-one crash-two crash-three timeout-four; do
  [ -f "$c/proto_decode/$f" ] || fail "$f not kept"
  grep -q "^build/fuzz/bin/fuzz_proto_decode $c/proto_decode/$f " "$c/reproduce.txt" || fail "no reproduce line for $f"
done
[ -s "$c/logs/proto_decode/crash-two.log" ] || fail "crash-two was not replayed"
[ ! -e "$c/logs/proto_decode/timeout-four.log" ] || fail "a timeout was replayed"
grep -qx '3 distinct crash(es) from 4 input(s)' "$c/summary.txt" || fail "summary.txt head"
grep -q '3 distinct crash(es) from 4 input(s)' "$tmp/log" || fail "summary not printed"
python3 - "$c/summary.json" "$c" <<'PY' || fail "summary.json"
import json, sys
s, c = json.load(open(sys.argv[1])), sys.argv[2]
g = {(x['kind'], tuple(x['frames'])): x for x in s['crashes']}
a = g[('heap-buffer-overflow', ('get_u32', 'shunt_decode', 'read_frame'))]
assert a['count'] == 2 and a['smallest'] == c + '/proto_decode/crash-two', a
assert a['reproduce'].startswith('build/fuzz/bin/fuzz_proto_decode ' + c + '/proto_decode/crash-two'), a
b = g[('heap-buffer-overflow', ('put_u32', 'shunt_encode', 'LLVMFuzzerTestOneInput'))]
assert b['count'] == 1, b
t = g[('timeout', ())]
assert t['count'] == 1, t
assert s['targets'] == {'proto_decode': {'distinct': 3, 'inputs': 4}}, s['targets']
PY
# --corpus: seeded from the tree once, then grown by every run
tree=$(find "$root/fuzz/corpus/relocator" -maxdepth 1 -type f | wc -l)
n1=$(find "$tmp/corp/relocator" -maxdepth 1 -type f | wc -l)
[ "$n1" = $((tree + 1)) ] || fail "first run: DIR/relocator has $n1 inputs, want $tree + 1"
grep -q "relocator: working corpus $tree -> $n1 inputs" "$tmp/log" || fail "corpus line"
run 2
n2=$(find "$tmp/corp/relocator" -maxdepth 1 -type f | wc -l)
[ "$n2" = $((n1 + 1)) ] || fail "second run: DIR/relocator has $n2 inputs, want $n1 + 1"
# one campaign at a time on a DIR
exec 9>"$tmp/corp/.lock"; flock 9
run 3
[ $? = 2 ] && grep -q 'another campaign is using --corpus' "$tmp/log" || fail "the lock"
echo "fuzz.campaign_crashes: ok"
