#!/usr/bin/env bash
# End-to-end test of the layer's sockets: a runc target with cluster
# services (net-fixture.yaml) under its own name, the real agent and proxy,
# and one test program run under LD_PRELOAD=libshunt.so with the addresses
# of the services (resolved inside the target: DNS is not under test here)
# as arguments:  PROGRAM WEB_IP ECHO_IP UECHO_IP TARGET_IP
#   net_run.sh HARNESS LIBSHUNT FIXTURE NAME CONFIG PROGRAM
# CONFIG: a layer config file or "-".
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 config=$5 prog=$6
. "$(dirname "$0")/../lib/session.sh"
st_init nettest
fail() { st_fail "$@"; }

st_up "$fixture"
ip_of() {
  runc exec "$ctr" getent ahostsv4 "$1" | awk 'NR==1 {print $1}'
}
web=$(ip_of web) echo_ip=$(ip_of echo) uecho=$(ip_of uecho)
self=$(runc exec "$ctr" sh -c 'getent ahostsv4 "$(hostname)"' | awk 'NR==1 {print $1}')
[ -n "$web" ] && [ -n "$echo_ip" ] && [ -n "$uecho" ] && [ -n "$self" ] ||
  fail "cannot resolve the services in the target (web=$web echo=$echo_ip uecho=$uecho self=$self)"

st_proxy
[ "$config" = - ] && config=

LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
SHUNT_CONFIG=$config SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} \
SHUNT_LOG_FILE=$work/layer.log timeout 120 "$prog" "$web" "$echo_ip" "$uecho" "$self"
rc=$?
[ $rc -eq 0 ] || fail "${prog##*/} failed ($rc)"
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "net_run.sh: ${prog##*/} passed against target $name"
