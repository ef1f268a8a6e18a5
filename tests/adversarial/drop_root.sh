#!/usr/bin/env bash
# A program that drops root under harness exec (issue 13 §4) cannot reach
# the session's socket (root's, in a 0700 directory): that is refused, and
# clearly: the layer says so once per process on stderr instead of only
# failing with EIO.
# Usage: drop_root.sh HARNESS.  Needs root, runc and setpriv (77).
set -uo pipefail
harness=$1
[ "$(id -u)" = 0 ] && command -v runc >/dev/null && command -v setpriv >/dev/null ||
  { echo "needs root, runc and setpriv"; exit 77; }
work=$(mktemp -d /tmp/shunt-adv-drop.XXXXXX)
chmod 755 "$work"
trap '"$harness" down adv-drop >/dev/null 2>&1; rm -rf "$work"' EXIT
cat > "$work/s.yaml" <<Y
target:
  name: adv-drop
  files:
    - {path: /srv/x.txt, content: "remote\n"}
layer:
  files:
    read_write: ["^/srv/"]
Y
"$harness" up "$work/s.yaml" > "$work/up" 2>&1 || { cat "$work/up"; echo "FAIL up"; exit 1; }
"$harness" exec --target adv-drop --config "$work/s.yaml" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
  /bin/sh -c 'cat /srv/x.txt; echo "cat rc=$?"; cat /srv/x.txt' \
  > "$work/out" 2>&1
fails=0
grep -q '^cat rc=1$' "$work/out" || { echo "FAIL the remote read did not fail"; fails=1; }
n=$(grep -c 'shunt: uid 65534 cannot reach the session socket' "$work/out")
[ "$n" -ge 1 ] || { echo "FAIL no clear message"; fails=1; }
sed 's/^/  | /' "$work/out"
[ "$fails" = 0 ] || exit 1
echo "all ok"
