#!/usr/bin/env bash
# Issue 13 §2.3: `harness down` + `harness up` of the target under a
# running program: its calls fail with EIO, and the agent says so once.
#   restart_write.sh HARNESS LIBSHUNT FIXTURE NAME RWCONF PROGRAM
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 rwconf=$5 prog=$6
. "$(dirname "$0")/../lib/session.sh"
st_init advrestart
fail() { st_fail "$@"; }

st_up "$fixture"
st_proxy
coproc R { exec env "LD_PRELOAD=$lib" "SHUNT_SOCKET=$sock" \
  "SHUNT_TOKEN=$(cat "$sock.token")" "SHUNT_CONFIG=$rwconf" \
  SHUNT_LOG=warn "SHUNT_LOG_FILE=$work/layer.log" "$prog"; }
rpid=$R_PID
read -r -t 60 line <&"${R[0]}" || fail "restart_write did not get ready"
[ "$line" = ready ] || fail "restart_write: $line"
"$harness" down "$name" > "$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "harness down failed"; }
"$harness" up "$work/fixture.yaml" > "$work/up2.log" 2>&1 || { cat "$work/up2.log" >&2; fail "harness up (again) failed"; }
sleep 0.5
echo go >&"${R[1]}"
out=$(cat <&"${R[0]}")
wait "$rpid"
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "restart_write failed ($rc)"
n=$(grep -c "target pid .* exited" "$work/proxy.log")
[ "$n" -eq 1 ] || fail "the agent logged the lost target $n times (want once)"
echo "restart_write passed"
