#!/usr/bin/env bash
# ctest fuzz.group: ci/fuzz-group groups crash inputs by kind and top
# frames.  Fabricated sanitizer reports (fuzz/testdata/group/): a.log and
# b.log are the same bug (same kind, same top 3 functions) seen by two
# targets with different pids, addresses, lines, paths and a .part clone;
# c.log is another; a timeout input has its own kind whatever its log says.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/fuzz/testdata/group
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/crashes/proto_decode" "$tmp/crashes/agent_session" "$tmp/crashes/relocator"
printf 'abcdefgh' >"$tmp/crashes/proto_decode/crash-aaaa"
printf 'xyz' >"$tmp/crashes/agent_session/crash-bbbb"
printf '0123456789' >"$tmp/crashes/proto_decode/crash-cccc"
printf 't' >"$tmp/crashes/relocator/timeout-dddd"
printf 'tt' >"$tmp/crashes/relocator/timeout-eeee"
m=$tmp/crashes/manifest.tsv
r() { printf 'build/fuzz/bin/fuzz_%s %s' "$1" "$2"; }
{
  printf 'proto_decode\t%s\t%s\t%s\n' "$tmp/crashes/proto_decode/crash-aaaa" "$(r proto_decode crash-aaaa)" "$data/a.log"
  # a missing replay log first: the next log is used
  printf 'agent_session\t%s\t%s\t%s\t%s\n' "$tmp/crashes/agent_session/crash-bbbb" "$(r agent_session crash-bbbb)" "$tmp/none.log" "$data/b.log"
  printf 'proto_decode\t%s\t%s\t%s\n' "$tmp/crashes/proto_decode/crash-cccc" "$(r proto_decode crash-cccc)" "$data/c.log"
  printf 'relocator\t%s\t%s\t%s\n' "$tmp/crashes/relocator/timeout-dddd" "$(r relocator timeout-dddd)" "$data/timeout.log"
  printf 'relocator\t%s\t%s\t-\n' "$tmp/crashes/relocator/timeout-eeee" "$(r relocator timeout-eeee)"
} >"$m"
"$root/ci/fuzz-group" "$m"
python3 - "$tmp/crashes/summary.json" "$tmp" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
tmp = sys.argv[2]
def fail(msg):
    print('FAIL:', msg); print(json.dumps(s, indent=2)); sys.exit(1)
c = s['crashes']
if s['inputs'] != 5 or s['distinct'] != 3 or len(c) != 3:
    fail('want 5 inputs in 3 groups, got %d in %d' % (s['inputs'], s['distinct']))
by = {g['kind']: g for g in c}
hbo = by.get('heap-buffer-overflow')
if not hbo or hbo['count'] != 2:
    fail('the two heap-buffer-overflow reports are not one group of 2')
if hbo['frames'] != ['get_u32', 'shunt_decode', 'read_frame']:
    fail('frames %r' % hbo['frames'])
if hbo['smallest'] != tmp + '/crashes/agent_session/crash-bbbb' or hbo['smallest_size'] != 3:
    fail('smallest input of the group: %r' % hbo['smallest'])
if hbo['reproduce'] != 'build/fuzz/bin/fuzz_agent_session crash-bbbb':
    fail('reproduce line of the smallest: %r' % hbo['reproduce'])
if sorted(hbo['targets']) != ['agent_session', 'proto_decode']:
    fail('targets %r' % hbo['targets'])
uaf = by.get('heap-use-after-free')
if not uaf or uaf['count'] != 1 or uaf['frames'] != ['put_u32', 'shunt_encode', 'LLVMFuzzerTestOneInput']:
    fail('the use-after-free is not its own group (__asan_memcpy skipped)')
to = by.get('timeout')
if not to or to['count'] != 2 or to['frames'] != [] or to['smallest_size'] != 1:
    fail('the two timeouts are not one group of kind timeout')
if s['targets']['proto_decode'] != {'distinct': 2, 'inputs': 2}:
    fail('per-target counts %r' % s['targets'])
print('ok: 5 inputs, 3 distinct crashes')
PY
grep -q '^3 distinct crash(es) from 5 input(s)$' "$tmp/crashes/summary.txt"
grep -q 'stack: get_u32 < shunt_decode < read_frame' "$tmp/crashes/summary.txt"
# --frames 1 merges nothing more here, --frames 4 splits the two reports
"$root/ci/fuzz-group" --frames 4 --out "$tmp/f4" "$m" >/dev/null
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(s["distinct"] != 4)' "$tmp/f4/summary.json" ||
  { echo "FAIL: --frames 4 should tell the two overflow stacks apart"; exit 1; }
echo "fuzz.group: ok"
