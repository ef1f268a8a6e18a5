#!/usr/bin/env bash
# Incoming traffic when things go wrong (docs/incoming.md "Faults"), against
# a real runc target: the target's own server answers "remote" on 8080, the
# local program (tests/incoming/server.py under `harness exec`) answers
# "local" on 18080 with port_mapping 18080 -> 8080, and a client in a
# service container of the cluster asks the target's address.
#   faults.sh BIN_DIR kill|agent|conflict
# kill:     the local program killed mid-request: that request fails (reset,
#           not a hang), and a second later the target's own server answers.
# agent:    the agent killed -9 leaves its nftables table; the next agent
#           sweeps it and starts clean; when that one ends no table is left;
#           `harness down` leaves nothing.
# conflict: a second session with on_conflict: refuse fails with a clear
#           error; with replace it takes the port.
set -euo pipefail
bin=$1 what=$2
here=$(cd "$(dirname "$0")" && pwd)
name=inf-$what${SHUNT_TEST_SUFFIX:-}
work=$(mktemp -d /tmp/shunt-inf.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$bin/harness" down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.err; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }

cat > "$work/t.yaml" <<EOF
target:
  name: $name
  services:
    - name: client
      command: [/bin/sleep, infinity]
EOF
"$bin/harness" up "$work/t.yaml" >/dev/null
tctr=shunt-$name-target cctr=shunt-$name-client
runc exec "$tctr" sh -c 'mkdir -p /srv && cat > /srv/server.py' < "$here/server.py"
runc exec "$cctr" sh -c 'mkdir -p /srv && cat > /srv/client.py' < "$here/client.py"
runc exec -d "$tctr" /usr/bin/python3 /srv/server.py 8080 remote
taddr=$(ip netns exec "$tctr" ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }')
ask() { runc exec "$cctr" /usr/bin/python3 /srv/client.py "$taddr" 8080 "$1" "${2:-5}"; }
for _ in $(seq 1 50); do [ "$(ask / 2>/dev/null)" = remote ] && break; sleep 0.1; done
[ "$(ask /)" = remote ] || fail "the target's own server does not answer"

tables() { ip netns exec "$tctr" nft list tables 2>/dev/null | awk '/shunt_in_/ { print $3 }' | sort | tr '\n' ' '; }

# start_local TAG WORD LOCALPORT CONFLICT: harness exec in the background;
# waits until the proxy lists the subscription (or the session ends).
start_local() {
  # the script is read from here, not from the target
  printf 'layer:\n  files: {local: ["^%s/"]}\n  network:\n    incoming: {mode: steal, port_mapping: {%s: 8080}, on_conflict: %s}\n' \
    "$here" "$3" "$4" > "$work/$1.yaml"
  "$bin/harness" exec --target "$name" --config "$work/$1.yaml" -- \
    /usr/bin/python3 "$here/server.py" "$3" "$2" > "$work/$1.out" 2> "$work/$1.err" &
  last=$!
  pids+=("$last")
  for _ in $(seq 1 100); do
    grep -qs "^8080 $3 " /run/shunt/targets/"$name"/incoming/"$last" && return 0
    kill -0 "$last" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
prog_of() { pgrep -f "server.py $1 " | while read -r p; do [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$2" ] && echo "$p"; done; }

case $what in
kill)
  start_local a local 18080 refuse || fail "no subscription"
  [ "$(ask /)" = local ] || fail "not stolen"
  ask /hang 20 > "$work/hang.out" &
  hang=$!
  for _ in $(seq 1 50); do grep -q "GET /hang" "$work/a.out" && break; sleep 0.1; done
  grep -q "GET /hang" "$work/a.out" || fail "the local program never got /hang"
  prog=$(prog_of 18080 "$last")
  [ -n "$prog" ] || fail "no local program"
  t0=$(date +%s.%N)
  kill -9 "$prog"
  wait "$hang" || true
  t1=$(date +%s.%N)
  got=$(cat "$work/hang.out")
  case $got in error:*) ;; *) fail "the request in flight got '$got', not an error" ;; esac
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' || fail "the request in flight took $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s to fail"
  sleep 1
  [ "$(ask / 2)" = remote ] || fail "1 s after the kill the target's own server does not answer"
  echo "kill: in-flight request failed with '$got'; the target serves again within 1 s"
  ;;
agent)
  start_local a local 18080 refuse || fail "no subscription"
  [ "$(ask /)" = local ] || fail "not stolen"
  agent=$(pgrep -P "$last" -f shunt-agent || true)
  [ -n "$agent" ] || fail "no agent under harness exec $last"
  before=$(tables)
  [ "$before" = "shunt_in_$agent " ] || fail "tables before: '$before' (agent $agent)"
  kill -9 "$agent"
  sleep 0.3
  [ "$(tables)" = "$before" ] || fail "a killed agent's table went away by itself?"
  kill "$last"; wait "$last" 2>/dev/null || true
  start_local b local2 18081 refuse || fail "no subscription for the second agent"
  agent2=$(pgrep -P "$last" -f shunt-agent)
  [ "$(tables)" = "shunt_in_$agent2 " ] || fail "the new agent did not sweep: '$(tables)'"
  [ "$(ask /)" = local2 ] || fail "not stolen by the second session"
  kill "$last"; wait "$last" 2>/dev/null || true
  [ -z "$(tables)" ] || fail "tables left after the session ended: '$(tables)'"
  [ "$(ask /)" = remote ] || fail "the port did not go back"
  start_local c local3 18082 refuse || fail "no third subscription"
  kill -9 "$(pgrep -P "$last" -f shunt-agent)"
  "$bin/harness" down "$name" >/dev/null
  ip netns list | grep -q "shunt-$name-" && fail "harness down left a namespace"
  echo "agent: leftover table swept by the next agent, none after it, none after down"
  ;;
conflict)
  start_local a local1 18080 refuse || fail "no subscription"
  [ "$(ask /)" = local1 ] || fail "not stolen"
  if start_local b local2 18081 refuse; then fail "a second session took a held port"; fi
  wait "$last" && fail "the refused session exited 0"
  grep -q "on_conflict" "$work/b.err" || fail "no clear error: $(cat "$work/b.err")"
  grep -m1 "8080" "$work/b.err" >&2 || true
  [ "$(ask /)" = local1 ] || fail "the first session lost the port"
  start_local c local3 18082 replace || fail "replace did not subscribe"
  [ "$(ask /)" = local3 ] || fail "replace did not take the port"
  echo "conflict: refused with a clear error; replace takes over"
  ;;
*) echo "usage: faults.sh BIN_DIR kill|agent|conflict" >&2; exit 2 ;;
esac
