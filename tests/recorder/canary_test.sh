#!/usr/bin/env bash
# The leak detector against the real layer and a real target: the canary
# reads a remote file through libc (forwarded: no leak) and with a raw
# openat (a leak); `harness exec --record` must report exactly that one.
# Exit statuses and signals come through the recorder unchanged.
#   canary_test.sh HARNESS_BIN FIXTURE_YAML CANARY_BIN
set -uo pipefail
harness=$1 fixture=$2 canary=$3
name=rec-canary
file=/etc/rec/canary.txt

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
if [ -e "$file" ]; then
  echo "FAIL: $file exists on this host: the check would prove nothing"
  exit 1
fi
work=$(mktemp -d /tmp/shunt-rec-test.XXXXXX)
trap '"$harness" down "$name" >/dev/null 2>&1; rm -rf "$work"' EXIT
failed=0 passed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() {
  failed=$((failed + 1)); echo "FAIL: $1"; shift
  for f in "$@"; do [ -s "$f" ] && { echo "---- $(basename "$f")"; head -c 6000 "$f"; echo; }; done
}

"$harness" up "$fixture" >"$work/up.log" 2>&1 || { cat "$work/up.log"; echo "FAIL: harness up"; exit 1; }

# rec LABEL CMD...: harness exec --record from /tmp; out, err, journal, rc.
rec() {
  (cd /tmp && timeout 120 "$harness" exec --target "$name" --record \
     --record-out "$work/journal" --record-timeout 60 -- "$@") \
    >"$work/out" 2>"$work/err"
  rc=$?
}

rec "$canary" "$file"
leaks=$(grep -c '^LEAK ' "$work/err")
if [ "$rc" -eq 0 ] &&
   grep -qx 'libc: canary in the target' "$work/out" &&
   grep -qx 'raw: No such file or directory' "$work/out" &&
   grep -qx 'harness exec: recorder: 1 leak' "$work/err" && [ "$leaks" -eq 1 ] &&
   grep -q "^LEAK \[pid [0-9]*\] openat(AT_FDCWD, \"$file\", O_RDONLY) = -1 ENOENT .*: $file is remote (read) in the layer's policy$" "$work/err"; then
  pass "canary: exactly the raw openat is a leak"
else
  fail "canary: status $rc, $leaks leaks" "$work/out" "$work/err" "$work/journal"
fi
# The journal holds the canary's calls, the layer's own among them (its
# connection, a socketpair end sent over the session's broker), and nothing of the harness: no
# agent was started in the traced tree.
if grep -q "execve(\"$canary\"" "$work/journal" &&
   grep -q 'sendmsg([0-9]*, {name=NULL, iovlen=1}, [^)]*(peer {AF_UNIX})) = 1' "$work/journal" &&
   ! grep -q 'shunt-agent' "$work/journal" &&
   ! grep -q "openat([^)]*\"$file\"[^)]*O_CLOEXEC" "$work/journal"; then
  pass "journal: the canary and its layer traced, not the harness"
else
  fail "journal" "$work/journal"
fi

rec cat "$file"
if [ "$rc" -eq 0 ] && grep -qx 'canary in the target' "$work/out" &&
   grep -qx 'harness exec: recorder: 0 leaks' "$work/err"; then
  pass "cat of a remote file through the layer: no leak"
else
  fail "cat: status $rc" "$work/out" "$work/err"
fi

rec sh -c 'exit 3'
[ "$rc" -eq 3 ] && pass "exit status 3" || fail "exit status $rc, want 3" "$work/err"
rec sh -c 'kill -TERM $$'
[ "$rc" -eq 143 ] && pass "killed by SIGTERM: 143" || fail "status $rc, want 143" "$work/err"
(cd /tmp && timeout 60 "$harness" exec --target "$name" --record --record-timeout 1 -- sh -c 'sleep 30; exit 0') \
  >"$work/out" 2>"$work/err"
rc=$?
if [ "$rc" -eq 137 ] && grep -q 'timed out' "$work/err"; then
  pass "--record-timeout kills the tree (137)"
else
  fail "timeout: status $rc" "$work/err"
fi

echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
