#!/bin/sh
# harness.runc-race: `runc list` fails as a whole when a container is
# deleted while it lists (runc 1.1: `stat /run/runc/ID: no such file or
# directory`); under `harness run -j 2` that made another case's `harness
# up` an ERROR ("cannot list runc containers").  A runc wrapper first in
# PATH fails the first `list` that way; `harness down` of an absent target
# must still succeed.  A runc whose list always fails must still be an
# error (the retry is bounded).
# Usage: runc_race.sh HARNESS.  Needs root and runc (77).
set -u
harness=$1
[ "$(id -u)" = 0 ] && real=$(command -v runc) || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-runc-race.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir "$work/bin"
cat > "$work/bin/runc" <<EOS
#!/bin/sh
if [ "\$1" = list ]; then
  n=\$(cat "$work/count" 2>/dev/null || echo 0); echo \$((n + 1)) > "$work/count"
  if [ "\$n" -lt "\$(cat "$work/fails")" ]; then
    echo 'time="x" level=error msg="stat /run/runc/shunt-gone-target: no such file or directory"' >&2
    exit 1
  fi
fi
exec "$real" "\$@"
EOS
chmod +x "$work/bin/runc"

echo 1 > "$work/fails"
PATH="$work/bin:$PATH" "$harness" down shunt-race-none > "$work/out" 2>&1 ||
  fail "one racing runc list made harness down fail: $(cat "$work/out")"
[ "$(cat "$work/count")" = 2 ] || fail "runc list ran $(cat "$work/count") times, expected 2"

rm -f "$work/count"; echo 1000 > "$work/fails"
PATH="$work/bin:$PATH" "$harness" down shunt-race-none > "$work/out" 2>&1 &&
  fail "a runc list that always fails was not an error"
grep -q "cannot list runc containers" "$work/out" || fail "no error message: $(cat "$work/out")"
[ "$(cat "$work/count")" -le 10 ] || fail "runc list retried $(cat "$work/count") times"
echo "PASS"
