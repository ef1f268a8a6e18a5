#!/usr/bin/env bash
# layer.incoming: the layer's side of incoming traffic (docs/incoming.md)
# with a real proxy and a fake agent (lt_incoming), no target needed:
#   incoming.sh LIBSHUNT LT_INCOMING LT_INSERVER [GO_MANIFEST]
# With GO_MANIFEST (go.incoming): only Go's net/http server (gotest serve),
# every toolchain and build variant tests/go/build.sh made: r.RemoteAddr
# is the remote client, the connection's local address the target's.
# - listen() on a selected port sends INCOMING_SUB (the mapped remote port,
#   mode, conflict rule, filter for steal only, loopback address for the
#   wildcard); a second listen() sends nothing;
# - the stolen stream reaches the program's own listener; accept's address,
#   getpeername (also of a dup) and getsockname report the remote client
#   10.200.77.9:41234 and the target's 10.200.77.2:80 (IPv4-mapped on an
#   AF_INET6 socket), with a blocking accept and with epoll + accept4;
# - closing the listener sends INCOMING_UNSUB while the program runs, but
#   not after a fork (the proxy releases it with the session group);
# - EADDRINUSE from the agent: listen() fails with EADDRINUSE and one
#   "shunt: incoming:" notice names the port and the fix;
# - any other failure: the listener stays local and works;
# - python3's http.server logs the remote client as its client.
set -uo pipefail
lib=$1 drv=$2 srv=$3
work=$(mktemp -d /tmp/shunt-ltincoming.XXXXXX)
trap 'rm -rf "$work"' EXIT
req=$work/req
printf 'GET /x HTTP/1.0\r\nHost: t\r\n\r\n' > "$req"
steal=$'local ^/\nnet_incoming steal\nnet_incoming_map @PORT@:80\n'
fails=0

# run NAME HOW CONFIG -- PROGRAM...: output in $work/NAME.out/.err
run() {
  local n=$1 how=$2 cfg=$3; shift 4
  timeout 90 "$drv" "$lib" "$how" "$cfg" "$req" -- "$@" \
    > "$work/$n.out" 2> "$work/$n.err"
}
# expect NAME LINE...: each line is in NAME's stdout, in order
expect() {
  local n=$1; shift
  local want
  want=$(printf '%s\n' "$@")
  if [ "$(grep -Fx -f <(printf '%s\n' "$@") "$work/$n.out")" != "$want" ]; then
    echo "incoming: $n: want" >&2
    printf '  %s\n' "$@" >&2
    echo "got:" >&2
    sed 's/^/  /' "$work/$n.out" >&2
    grep -v '^[0-9:.]* shunt\[' "$work/$n.err" | tail -20 | sed 's/^/  err: /' >&2
    fails=$((fails + 1))
    return 1
  fi
  echo "incoming: $n: ok"
}
count() { grep -c "$2" "$work/$1.out"; }

sub4='sub remote=80 local=PORT mode=2 conflict=0 filter=0 family=inet addr=127.0.0.1'
if [ $# -ge 4 ]; then
  n=0
  while read -r kind ver variant bin; do
    [ "$kind" = gotest ] || continue
    run go-$ver-$variant steal "$steal" -- "$bin" serve @PORT@
    expect go-$ver-$variant "$sub4" 'remote=10.200.77.9:41234 local=10.200.77.2:80' \
      'unsub sub=7 while-running=1' 'exit=0'
    n=$((n + 1))
  done < "$4"
  [ "$n" -gt 0 ] || { echo "incoming: no gotest in $4" >&2; exit 1; }
  [ "$fails" = 0 ] || { echo "incoming: $fails of $n Go build(s) failed" >&2; exit 1; }
  exit 0
fi
for how in block epoll; do
  run inet-$how steal "$steal" -- "$srv" @PORT@ inet $how
  expect inet-$how "$sub4" \
    'answer: accept=10.200.77.9:41234 len=16 peer=10.200.77.9:41234 sock=10.200.77.2:80 dup-peer=10.200.77.9:41234' \
    'unsub sub=7 while-running=1' 'exit=0'
  [ "$(count inet-$how '^sub ')" = 1 ] ||
    { echo "incoming: inet-$how: a second listen() subscribed again" >&2; fails=$((fails + 1)); }
done
run inet6 steal "$steal" -- "$srv" @PORT@ inet6 block
expect inet6 "$sub4" \
  'answer: accept=::ffff:10.200.77.9:41234 len=28 peer=::ffff:10.200.77.9:41234 sock=::ffff:10.200.77.2:80 dup-peer=::ffff:10.200.77.9:41234' \
  'unsub sub=7 while-running=1' 'exit=0'
run inet6only steal "$steal" -- "$srv" @PORT@ inet6only epoll
expect inet6only \
  'sub remote=80 local=PORT mode=2 conflict=0 filter=0 family=inet6 addr=::1' \
  'answer: accept=::ffff:10.200.77.9:41234 len=28 peer=::ffff:10.200.77.9:41234 sock=::ffff:10.200.77.2:80 dup-peer=::ffff:10.200.77.9:41234' \
  'unsub sub=7 while-running=1' 'exit=0'

# An SO_REUSEPORT group of two listeners: one subscription (the proxy
# answers the second itself), released once both are closed.
run reuseport steal "$steal" -- "$srv" @PORT@ inet6 reuseport
expect reuseport "$sub4" \
  'answer: accept=::ffff:10.200.77.9:41234 len=28 peer=::ffff:10.200.77.9:41234 sock=::ffff:10.200.77.2:80 dup-peer=::ffff:10.200.77.9:41234' \
  'unsub sub=7 while-running=1' 'exit=0'
[ "$(count reuseport '^sub ')$(count reuseport '^unsub ')" = 11 ] ||
  { echo "incoming: reuseport: want one sub and one unsub" >&2; fails=$((fails + 1)); }

# A fork after listen(): the parent's close sends nothing; the proxy
# releases the port when the group (parent and child) is gone.
run fork steal "$steal" -- "$srv" @PORT@ inet block fork
expect fork "$sub4" \
  'answer: accept=10.200.77.9:41234 len=16 peer=10.200.77.9:41234 sock=10.200.77.2:80 dup-peer=10.200.77.9:41234' \
  'unsub sub=7 while-running=0' 'exit=0'

# Mirror never carries a filter; steal carries it for the listed ports;
# on_conflict and the mode travel as they are.
filt=$'net_incoming_filter header ^x-route: local$\nnet_incoming_filter method GET\n'
run mirror steal "$steal"$'net_incoming mirror\nnet_incoming_conflict replace\n'"$filt" -- "$srv" @PORT@ inet block
expect mirror 'sub remote=80 local=PORT mode=1 conflict=1 filter=0 family=inet addr=127.0.0.1'
run filter steal "$steal$filt"$'net_incoming_filter_port 80\n' -- "$srv" @PORT@ inet block
expect filter 'sub remote=80 local=PORT mode=2 conflict=0 filter=3 family=inet addr=127.0.0.1'
run filter-other steal "$steal$filt"$'net_incoming_filter_port 81\n' -- "$srv" @PORT@ inet block
expect filter-other "$sub4"

# Another session holds the port.
run refuse refuse "$steal" -- "$srv" @PORT@ inet block
expect refuse "$sub4" 'exit=1'
if [ "$(grep -c '^shunt: incoming: ' "$work/refuse.err")" != 1 ] ||
   ! grep -q "port 80 is held by another session.*fails with EADDRINUSE.*on_conflict: replace" "$work/refuse.err" ||
   ! grep -q 'lt_inserver: listen: Address already in use' "$work/refuse.err"; then
  echo "incoming: refuse: want one notice and listen() failing with EADDRINUSE" >&2
  grep -v '^[0-9:.]* shunt\[' "$work/refuse.err" >&2
  fails=$((fails + 1))
else
  echo "incoming: refuse notice: ok"
fi

# No incoming support at the other end: the listener stays local.
run nosys nosys "$steal" -- "$srv" @PORT@ inet block
expect nosys "$sub4" 'exit=0'
grep -Eq '^answer: accept=127\.0\.0\.1:[0-9]+ len=16 peer=127\.0\.0\.1:[0-9]+ sock=127\.0\.0\.1:[0-9]+ ' "$work/nosys.out" ||
  { echo "incoming: nosys: the local client was not served" >&2; cat "$work/nosys.out" >&2; fails=$((fails + 1)); }

# A real server: python3's http.server logs the remote client.
if command -v python3 > /dev/null; then
  run python steal "$steal" -- python3 -m http.server --bind 0.0.0.0 @PORT@
  expect python "$sub4"
  grep -q '^answer: HTTP/1.0 404 File not found' "$work/python.out" ||
    { echo "incoming: python: no answer from http.server" >&2; fails=$((fails + 1)); }
  grep -q '^10\.200\.77\.9 - - .*"GET /x HTTP/1.0" 404' "$work/python.err" ||
    { echo "incoming: python: http.server did not see the remote client" >&2
      grep -v '^[0-9:.]* shunt\[' "$work/python.err" >&2; fails=$((fails + 1)); }
fi

[ "$fails" = 0 ] || { echo "incoming: $fails case(s) failed" >&2; exit 1; }
