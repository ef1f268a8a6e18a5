#!/usr/bin/env bash
# adversarial.sig_malloc_dns: sig_malloc's handler resolves a cluster name
# (the layer's getaddrinfo: GETADDRINFO to the agent, addrinfo lists it
# allocates) while two threads malloc and free; the address must be the
# one the target itself gives.
#   sig_malloc_dns.sh HARNESS LIBSHUNT FIXTURE NAME SIG_MALLOC N
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 prog=$5 n=$6
. "$(dirname "$0")/../lib/session.sh"
st_init adv-sigmallocdns
fail() { st_fail "$@"; }

st_up "$fixture"
ip=$(runc exec "$ctr" getent ahostsv4 db.cluster | awk 'NR==1 {print $1}')
[ -n "$ip" ] || fail "db.cluster does not resolve inside the target"
st_proxy

LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} SHUNT_LOG_FILE=$work/layer.log \
timeout 120 "$prog" dns db.cluster "$ip" "$n"
rc=$?
[ $rc -eq 0 ] || fail "sig_malloc dns failed ($rc)"
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "sig_malloc_dns.sh: passed against target $name"
