#!/usr/bin/env bash
# Resilience of the layer against a real target: 100 programs killed while
# holding remote handles leave no fd behind in the agent; then the agent is
# killed mid-run and the program gets EIO and goes on.
#   resilience.sh HARNESS LIBSHUNT FIXTURE NAME RWCONF LT_HOLD LT_AGENTDEATH
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 rwconf=$5 hold=$6 death=$7
work=$(mktemp -d /tmp/shunt-lres.XXXXXX)
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  "$harness" down "$name" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "resilience.sh: $*" >&2; [ -s "$work/proxy.log" ] && tail -20 "$work/proxy.log" >&2; exit 1; }

sed "s/^  name: ltest\$/  name: $name/" "$fixture" > "$work/fixture.yaml"
"$harness" up "$work/fixture.yaml" > "$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "harness up failed"; }
sock=$work/proxy.sock
"$harness" proxy --target "$name" --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 150); do
  grep -q "^proxy listening on" "$work/proxy.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "^proxy listening on" "$work/proxy.out" || fail "harness proxy did not come up"
agent=$(pgrep -P "$proxy_pid" -f shunt-agent | head -n1)
[ -n "$agent" ] || fail "no agent"
export LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") SHUNT_CONFIG=$rwconf

fds() { ls "/proc/$agent/fd" | wc -l; }
base=$(fds)
for i in $(seq 1 100); do
  coproc H { exec "$hold"; }
  read -r -t 10 line <&"${H[0]}" || fail "lt_hold #$i did not get ready"
  [ "$line" = ready ] || fail "lt_hold #$i: $line"
  during=$(fds)
  [ "$during" -gt "$base" ] || fail "lt_hold #$i holds no handle at the agent ($during fds)"
  kill -9 "$H_PID"
  wait "$H_PID" 2>/dev/null
done
# The proxy releases a dead program's handles when its connections close.
for _ in $(seq 1 50); do [ "$(fds)" -le "$base" ] && break; sleep 0.1; done
after=$(fds)
[ "$after" -le "$base" ] || fail "agent has $after fds after 100 killed programs (baseline $base)"
echo "100 killed programs: agent fds $base before, $after after"

printf 'local content' > "$work/local.txt"
coproc D { exec "$death" "$work/flag" "$work/local.txt"; }
read -r -t 10 line <&"${D[0]}" || fail "lt_agentdeath did not get ready"
kill -9 "$agent"
touch "$work/flag"
wait "$D_PID"
rc=$?
[ $rc -eq 0 ] || fail "lt_agentdeath failed ($rc)"
echo "resilience checks passed"
