#!/usr/bin/env bash
# harness fuzz finds what it must and nothing else (issue 15 §3):
#  1. with libshunt-seeded.so, a layer with one planted bug (layer/fs_meta.c,
#     SHUNT_SEEDED_BUG: a remote access() refused with ENOENT says EACCES),
#     a campaign of at most 2 minutes reports it, minimised to at most 3
#     calls, as a scenario file;
#  2. that scenario passes under `harness run` with the real layer (it is
#     an ordinary regression test, and the bug is the seeded build's);
#  3. the same campaign with the real layer finds nothing.
set -u
harness=$1 libdir=$2 src=$3
scen=$src/tests/fuzz/seeded.yaml
out=$(mktemp -d /tmp/shunt-fuzzdiff.XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

t0=$(date +%s)
"$harness" fuzz "$scen" --layer "$libdir/libshunt-seeded.so" --minutes 2 \
    --stop-after 1 --seed 7 --out "$out/seeded" --json >"$out/seeded.json" 2>"$out/seeded.err"
rc=$?
t1=$(date +%s)
cat "$out/seeded.err"
[ $rc = 1 ] || fail "the seeded campaign exited $rc, not 1 (a divergence)"
python3 - "$out/seeded.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
d = r["divergences"]
if not d:
    sys.exit("FAIL: no divergence in report.json")
x = d[0]
print("found: %s in %s calls (from %s), tree %s of %s, found at %.1f s, minimised at %.1f s"
      % (x["signature"], x["calls_minimised"], x["calls"], x["tree_minimised"], x["tree"],
         x["found_ms"] / 1000, x["minimised_ms"] / 1000))
if "access" not in x["signature"] or "EACCES" not in x["signature"]:
    sys.exit("FAIL: the divergence is not the seeded one: %s" % x["signature"])
if x["calls_minimised"] > 3:
    sys.exit("FAIL: minimised to %d calls, not at most 3" % x["calls_minimised"])
if x["minimised_ms"] > 120000:
    sys.exit("FAIL: the minimised scenario came after %d ms" % x["minimised_ms"])
PY
[ $((t1 - t0)) -le 150 ] || fail "the seeded campaign took $((t1 - t0)) s"
div=$(ls "$out"/seeded/div-*.yaml | head -1)
[ -f "$div" ] && [ -f "$out/seeded/shunt-fuzz-interp.c" ] || fail "no scenario written"
echo "--- $div"; cat "$div"
"$harness" run --no-color "$div" >"$out/run.txt" 2>&1
rc=$?
cat "$out/run.txt"
[ $rc = 0 ] || fail "the written scenario does not pass with the real layer (exit $rc)"
grep -q 'PASS' "$out/run.txt" || fail "harness run did not pass it"

"$harness" fuzz "$scen" --sequences 60 --seed 7 --out "$out/real" >"$out/real.txt" 2>&1
rc=$?
cat "$out/real.txt"
[ $rc = 0 ] || fail "the real layer diverged (exit $rc)"
echo "ok"
