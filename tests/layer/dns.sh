#!/usr/bin/env bash
# layer.dns: names under the layer come from the target.  Brings up a target
# with cluster services (so the cluster DNS exists), starts `harness proxy`,
# runs lt_dns under LD_PRELOAD with what the target itself says (api.cluster's
# address, its host name), then compares `getent hosts`/`getent ahosts` and
# `hostname` under the layer with the same commands inside the target.
#   dns.sh HARNESS LIBSHUNT FIXTURE NAME LT_DNS
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 prog=$5
. "$(dirname "$0")/../lib/session.sh"
st_init ltest-dns
fail() { st_fail "$@"; }

st_up "$fixture"
in_target() { runc exec "$ctr" "$@"; }

api_ip=$(in_target getent hosts api.cluster | awk '{print $1; exit}')
[ -n "$api_ip" ] || fail "api.cluster does not resolve inside the target"
thost=$(in_target hostname)
# A name only the local host knows: its own host name.
lhost=$(hostname)
getent hosts "$lhost" > /dev/null || fail "the local host cannot resolve its own name $lhost"
in_target getent hosts "$lhost" > /dev/null && fail "the target resolves $lhost"

st_proxy

layered() {
  LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
  SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} SHUNT_LOG_FILE=$work/layer.log \
  timeout 60 "$@"
}

# res_query/res_search go to the cluster DNS through the socket hooks.
layered "$prog" "$api_ip" "$thost" "$lhost" ${SHUNT_DNS_NO_RES:+no-}res ||
  fail "lt_dns failed"

for q in "hosts api.cluster" "hosts only-in-target.example" \
         "hosts alias-in-target.example" "hosts db.cluster" \
         "hosts v6-only.example" "hosts $thost" "hosts 10.200.250.7" \
         "hosts $api_ip" "ahosts api.cluster" "ahostsv4 db.cluster"; do
  # shellcheck disable=SC2086
  want=$(in_target getent $q); wrc=$?
  # shellcheck disable=SC2086
  got=$(layered getent $q); grc=$?
  [ "$got" = "$want" ] && [ $grc = $wrc ] ||
    fail "getent $q: under the layer '$got' ($grc), in the target '$want' ($wrc)"
done
layered getent hosts "$lhost" && fail "getent hosts $lhost resolved under the layer"
got=$(layered hostname)
[ "$got" = "$thost" ] || fail "hostname under the layer: '$got', want '$thost'"

if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "dns.sh: lt_dns and getent passed against target $name"
