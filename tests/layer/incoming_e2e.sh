#!/usr/bin/env bash
# layer.incoming_e2e: incoming traffic with the real agent and proxy
# (docs/incoming.md).  Inside the target, its own python3 http.server on
# 8080 answers "remote".  A local python3 http.server (answering "local")
# runs under the layer with `net_incoming steal` and the mapping
# LOCAL:8080; a client inside the target then fetches http://TARGET:8080/:
#   - before the local program listens: "remote";
#   - while it runs: "local", and its log names the target as the client
#     (getpeername/accept report the remote client, not the proxy);
#   - within a second of the local program's exit: "remote" again;
#   - with an HTTP filter (header ^x-route: local$, the filter tree the
#     layer sends): only the requests carrying the header get "local".
#   incoming_e2e.sh HARNESS LIBSHUNT FIXTURE NAME
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4
. "$(dirname "$0")/../lib/session.sh"
st_init ltest-incoming
lpid=
# a failure must not leave the local server running (it would hold the
# test's output and whatever the caller's lock is)
fail() { [ -n "$lpid" ] && kill "$lpid" 2>/dev/null; st_fail "$@"; }

st_up "$fixture"
self=$(runc exec "$ctr" sh -c 'getent ahostsv4 "$(hostname)"' | awk 'NR==1 {print $1}')
[ -n "$self" ] || fail "cannot resolve the target's own address"
runc exec -d "$ctr" /usr/bin/python3 -m http.server 8080 --bind 0.0.0.0 \
  --directory /srv/www > /dev/null 2>&1 || fail "cannot start the target's service"
fetch() { runc exec "$ctr" /usr/bin/python3 /srv/fetch.py "http://$self:8080/" "$@"; }
for _ in $(seq 1 50); do [ "$(fetch)" = remote ] && break; sleep 0.1; done
[ "$(fetch)" = remote ] || fail "the target's own service does not answer: $(fetch)"

st_proxy
py=$(python3 -c 'import sys; print(sys.executable)') # not a version manager's shim
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/www"
echo local > "$work/www/index.html"
# start_local EXTRA-CONFIG: the local server under the layer, subscribed
start_local() {
  printf 'local ^/\nnet_incoming steal\nnet_incoming_map %s:8080\n%s' "$port" "$1" > "$work/layer.conf"
  : > "$work/local.err"
  LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
  SHUNT_CONFIG=$work/layer.conf SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-info} \
  SHUNT_LOG_FILE=$work/layer.log \
    "$py" -m http.server "$port" --bind 0.0.0.0 --directory "$work/www" \
    > "$work/local.out" 2> "$work/local.err" &
  lpid=$!
  status=/run/shunt/targets/$name/incoming
  for _ in $(seq 1 100); do
    grep -qs "^8080 $port $2\$" "$status"/* && break
    kill -0 "$lpid" 2>/dev/null || fail "the local server exited: $(cat "$work/local.err")"
    sleep 0.1
  done
  grep -qs "^8080 $port $2\$" "$status"/* || fail "no subscription '8080 $port $2' in $status"
}
# stop_local: the port goes back to the target's service within a second
stop_local() {
  kill "$lpid"; wait "$lpid" 2>/dev/null
  t0=$(date +%s%N)
  for _ in $(seq 1 20); do [ "$(fetch)" = remote ] && break; sleep 0.05; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$(fetch)" = remote ] || fail "the port did not go back to the target's service"
  [ "$ms" -le 1500 ] || fail "the port went back after $ms ms (want <= 1 s + a fetch)"
}

start_local "" steal
got=$(fetch)
[ "$got" = local ] || fail "while stolen the client got '$got', want 'local'"
grep -q "^$self - - .*\"GET / HTTP/1.1\" 200" "$work/local.err" ||
  fail "the local server did not see the client $self: $(cat "$work/local.err")"
stop_local
echo "incoming_e2e: stolen, served locally with the client $self, given back in $ms ms"

start_local $'net_incoming_filter header ^x-route: local$\n' steal-filter
a=$(fetch 'X-Route: local') b=$(fetch) c=$(fetch 'X-Route: other') d=$(fetch 'x-route: local')
[ "$a $b $c $d" = "local remote remote local" ] ||
  fail "filtered: got '$a $b $c $d', want 'local remote remote local'"
stop_local
echo "incoming_e2e: filtered steal by header: $a $b $c $d, given back in $ms ms"
