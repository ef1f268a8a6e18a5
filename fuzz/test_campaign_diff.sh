#!/usr/bin/env bash
# ctest fuzz.campaign_diff: ci/fuzz's differential campaign rows, with a
# stand-in for `harness fuzz` (SHUNT_FUZZ_HARNESS) that follows its
# contract: exit 0 nothing found, 1 divergences (OUT/div-*.yaml, a line
# each in OUT/report.txt, OUT/report.json) or a side failed (no div-*),
# 77 skipped (not root); a
# harness without the command makes ci/fuzz say the campaign is skipped.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- ci/fuzz output:"; cat "$tmp/log"; exit 1; }

cat >"$tmp/harness" <<'SH'
#!/usr/bin/env bash
[ "$1" = fuzz ] || exit 2
[ "${STUB_NO_FUZZ:-}" = 1 ] && { echo "harness: unknown command 'fuzz'" >&2; exit 2; }
[ "$2" = --help ] && exit 0
file=$2; shift 2
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --json) shift ;;
    *) exit 2 ;;
  esac
done
echo "$(basename "$file") $minutes" >>"$STUB_CALLS"
mkdir -p "$out"
case $(basename "$file") in
  fuzz-clean.yaml)
    echo '{"sequences": 120, "seconds": 6, "divergences": []}' >"$out/report.json"
    : >"$out/report.txt"; exit 0 ;;
  fuzz-div.yaml)
    echo 'x' >"$out/div-1.yaml"; echo 'y' >"$out/div-2.yaml"
    printf 'div-1.yaml: openat ...\ndiv-2.yaml: readlink ...\n' >"$out/report.txt"
    echo '{"sequences_per_s": 33.33, "divergences": [{}, {}]}' >"$out/report.json"
    exit 1 ;;
  fuzz-root.yaml) echo "harness fuzz: needs root" >&2; exit 77 ;;
  fuzz-fail.yaml) echo '{"sequences": 3, "seconds": 2}' >"$out/report.json"; exit 1 ;;
esac
exit 3
SH
chmod +x "$tmp/harness"
for n in clean div root fail; do echo "name: $n" >"$tmp/fuzz-$n.yaml"; done
export SHUNT_FUZZ_HARNESS=$tmp/harness STUB_CALLS=$tmp/calls
run() {
  "$root/ci/fuzz" --no-build --no-coverage --no-merge --out "$tmp/out" "$@" >"$tmp/log" 2>&1
}

run --minutes 1 --jobs 2 --diff-minutes 0.5 --target "diff:$tmp/fuzz-clean.yaml" \
  --target "diff:$tmp/fuzz-div.yaml" --target "diff:$tmp/fuzz-root.yaml"
rc=$?
[ "$rc" = 1 ] || fail "exit $rc, want 1 (a divergence was found)"
grep -Eq '^diff:fuzz-clean +20\.0 seq/s +- +- +- +0 div +ok$' "$tmp/log" || fail "row of fuzz-clean"
grep -Eq '^diff:fuzz-div +33\.3 seq/s +- +- +- +2 div +DIVERGED' "$tmp/log" || fail "row of fuzz-div"
grep -Eq '^diff:fuzz-root .*skipped \(harness fuzz: not root\)$' "$tmp/log" || fail "row of fuzz-root"
grep -q '^div-2.yaml: readlink' "$tmp/log" || fail "the report's lines are not shown"
[ "$(sort "$tmp/calls")" = "$(printf 'fuzz-clean.yaml 0.5\nfuzz-div.yaml 0.5\nfuzz-root.yaml 0.5')" ] ||
  fail "harness fuzz called as: $(cat "$tmp/calls")"

# exit 1 without a divergence: a side failed
rm -rf "$tmp/out"
run --target "diff:$tmp/fuzz-fail.yaml"
rc=$?
[ "$rc" = 1 ] || fail "exit $rc when a side failed"
grep -Eq '^diff:fuzz-fail +1\.5 seq/s +- +- +- +0 div +FAILED: a side failed' "$tmp/log" || fail "row of fuzz-fail"

# default share: 1 minute of 2 slots over 3 scenarios = 40 s each
rm -rf "$tmp/out" "$tmp/calls"
run --minutes 1 --jobs 2 --target "diff:$tmp/fuzz-clean.yaml" \
  --target "diff:$tmp/fuzz-root.yaml" --target "diff:$tmp/fuzz-div.yaml"
grep -qx 'fuzz-clean.yaml 0.666667' "$tmp/calls" || fail "default --minutes: $(cat "$tmp/calls")"

# --no-diff: nothing runs
rm -rf "$tmp/out" "$tmp/calls"
run --no-diff --target "diff:$tmp/fuzz-div.yaml"
[ ! -f "$tmp/calls" ] || fail "--no-diff ran harness fuzz"

# no `harness fuzz` in the build: a clear line, exit 0
rm -rf "$tmp/out"
STUB_NO_FUZZ=1 run --target "diff:$tmp/fuzz-div.yaml"
rc=$?
[ "$rc" = 0 ] || fail "exit $rc without harness fuzz"
grep -q "differential campaign SKIPPED" "$tmp/log" || fail "no skip line"
grep -Eq "^diff:fuzz-div .*skipped \(no 'harness fuzz' yet\)$" "$tmp/log" || fail "no skipped row"
echo "fuzz.campaign_diff: ok"
