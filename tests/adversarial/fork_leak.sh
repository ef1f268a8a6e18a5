#!/usr/bin/env bash
# Issue 13 §2.2: 2,000 forks, each child exiting while holding remote
# directory and write-mode fds; the agent's fd count must be back at its
# baseline while the parent (the fork group) is still alive.
#   fork_leak.sh HARNESS LIBSHUNT FIXTURE NAME RWCONF FORK_LEAK [N]
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 rwconf=$5 prog=$6 n=${7:-2000}
. "$(dirname "$0")/../lib/session.sh"
st_init advfork
fail() { st_fail "$@"; }

st_up "$fixture"
st_proxy
agent=$agent_pid
[ -n "$agent" ] || fail "no agent"
fds() { ls "/proc/$agent/fd" | wc -l; }
base=$(fds)
coproc F { exec env "LD_PRELOAD=$lib" "SHUNT_SOCKET=$sock" \
  "SHUNT_TOKEN=$(cat "$sock.token")" "SHUNT_CONFIG=$rwconf" \
  SHUNT_LOG=warn "SHUNT_LOG_FILE=$work/layer.log" "$prog" "$n"; }
fpid=$F_PID
read -r -t 600 line <&"${F[0]}" || fail "fork_leak did not finish its $n forks"
[ "$line" = done ] || fail "fork_leak: $line"
for _ in $(seq 1 50); do [ "$(fds)" -le "$base" ] && break; sleep 0.1; done
during=$(fds)
echo x >&"${F[1]}"
wait "$fpid"
rc=$?
echo "fork_leak: agent fds $base before, $during after $n forks (parent alive)"
[ $rc -eq 0 ] || fail "fork_leak failed ($rc)"
[ "$during" -le "$base" ] || fail "agent holds $during fds after $n forks (baseline $base): handles leaked"
echo "fork_leak passed"
