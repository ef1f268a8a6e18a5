#!/usr/bin/env bash
# End-to-end test of remote unix-socket paths: a runc target that runs its
# own unix-socket echo servers (unix-fixture.yaml, started here with
# `runc exec -d`), the real agent and proxy, and lt_unix run twice under
# LD_PRELOAD=libshunt.so: with CONFIG (net_remote_unix rules: the target's
# sockets are reached) and with no config (every unix socket stays local).
# The errnos a connect gets inside the target (a path that is not a socket,
# a missing path) are measured there and passed to the program.
#   unix_run.sh HARNESS LIBSHUNT FIXTURE NAME CONFIG PROGRAM
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 config=$5 prog=$6
. "$(dirname "$0")/../lib/session.sh"
st_init unixtest
fail() { st_fail "$@"; }

for p in /run/echo.sock /run/echo2.sock /run/missing.sock; do
  [ -e "$p" ] && fail "$p exists on this host: the local cases would not be local"
done
st_up "$fixture"
runc exec -d "$ctr" /usr/bin/python3 /srv/uecho.py </dev/null >/dev/null 2>&1 ||
  fail "cannot start the unix echo server in the target"
for _ in $(seq 1 100); do
  runc exec "$ctr" test -S /run/echo.sock && break
  sleep 0.1
done
runc exec "$ctr" test -S /run/echo.sock || fail "no /run/echo.sock in the target"

# connect()'s errno inside the target, as a name (ECONNREFUSED...)
errno_in_target() {
  runc exec "$ctr" /usr/bin/python3 -c '
import errno, socket, sys
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1]); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$1"
}
notsock=$(errno_in_target /etc/hostname)
missing=$(errno_in_target /run/missing.sock)
[ -n "$notsock" ] && [ -n "$missing" ] || fail "cannot measure errnos in the target"

st_proxy
run() {
  LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
  SHUNT_CONFIG=$1 SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} \
  SHUNT_LOG_FILE=$work/layer.log timeout 120 "$prog" "$2" "$notsock" "$missing"
}
run "$config" remote || fail "${prog##*/} remote failed"
run "" local || fail "${prog##*/} local failed"
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "unix_run.sh: ${prog##*/} passed against target $name"
