#!/usr/bin/env bash
# exec and proxy refuse target names that are not names (issue 13 §4): a
# name like ../x is a path out of the state directory, refused as by down
# and status (usage error, exit 2), never looked up.
# Usage: names.sh HARNESS.
set -uo pipefail
harness=$1
fails=0
for cmd in "exec --target ../x -- true" "exec --target a/b -- true" "exec --target .. -- true" \
           "proxy --target ../x" "proxy --target ../../etc"; do
  out=$("$harness" $cmd 2>&1); rc=$?
  if [ "$rc" = 2 ] && grep -q 'is not a target name' <<<"$out" && ! grep -q 'no state in' <<<"$out"; then
    echo "ok   harness $cmd: refused"
  else
    echo "FAIL harness $cmd: exit $rc: $out"; fails=$((fails+1))
  fi
done
[ "$fails" = 0 ] || exit 1
