#!/usr/bin/env bash
# Resilience of the layer against a real target: 100 programs killed while
# holding remote handles leave no fd behind in the agent; then the agent is
# killed mid-run and the program gets EIO and goes on.
#   resilience.sh HARNESS LIBSHUNT FIXTURE NAME RWCONF LT_HOLD LT_AGENTDEATH
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 rwconf=$5 hold=$6 death=$7
. "$(dirname "$0")/../lib/session.sh"
st_init lres
fail() { st_fail "$@"; }

st_up "$fixture"
st_proxy
agent=$agent_pid
[ -n "$agent" ] || fail "no agent"
# Only the test programs run under the layer, not this script's tools.
under_layer=(env "LD_PRELOAD=$lib" "SHUNT_SOCKET=$sock"
             "SHUNT_TOKEN=$(cat "$sock.token")" "SHUNT_CONFIG=$rwconf")

fds() { ls "/proc/$agent/fd" | wc -l; }
base=$(fds)
for i in $(seq 1 100); do
  coproc H { exec "${under_layer[@]}" "$hold"; }
  hpid=$H_PID # bash unsets H_PID once it has reaped the coprocess
  read -r -t 30 line <&"${H[0]}" || fail "lt_hold #$i did not get ready"
  [ "$line" = ready ] || fail "lt_hold #$i: $line"
  during=$(fds)
  [ "$during" -gt "$base" ] || fail "lt_hold #$i holds no handle at the agent ($during fds)"
  kill -9 "$hpid"
  wait "$hpid" 2>/dev/null
done
# The proxy releases a dead program's handles when its connections close.
for _ in $(seq 1 150); do [ "$(fds)" -le "$base" ] && break; sleep 0.1; done
after=$(fds)
[ "$after" -le "$base" ] || fail "agent has $after fds after 100 killed programs (baseline $base)"
echo "100 killed programs: agent fds $base before, $after after"

printf 'local content' > "$work/local.txt"
coproc D { exec "${under_layer[@]}" "$death" "$work/flag" "$work/local.txt"; }
dpid=$D_PID
read -r -t 30 line <&"${D[0]}" || fail "lt_agentdeath did not get ready"
kill -9 "$agent"
touch "$work/flag"
wait "$dpid"
rc=$?
[ $rc -eq 0 ] || fail "lt_agentdeath failed ($rc)"
echo "resilience checks passed"
