#!/usr/bin/env bash
# Issue 13 §2.4: unauthenticated connections to the proxy and the agent
# (auth_flood.py), then a real program through the same proxy still works.
#   auth_flood.sh HARNESS LIBSHUNT
set -uo pipefail
harness=$1 lib=$2
work=$(mktemp -d /tmp/shunt-advauth.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "auth_flood: $*" >&2; tail -20 "$work/proxy.log" >&2; exit 1; }
mkdir "$work/root" && printf 'hello from the root\n' > "$work/root/hello.txt"
sock=$work/proxy.sock
"$harness" proxy --root "$work/root" --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
pid=$!
for _ in $(seq 1 100); do
  grep -q "^proxy listening on" "$work/proxy.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "^proxy listening on" "$work/proxy.out" || fail "harness proxy did not come up"
port=$(grep -o "on 127.0.0.1:[0-9]*" "$work/proxy.log" | head -n1 | cut -d: -f2)
[ -n "$port" ] || fail "no agent port in the proxy's log"
python3 "$(dirname "$0")/auth_flood.py" "$sock" "$port" || fail "unauthenticated connections were not contained"
got=$(LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
      timeout 30 cat /hello.txt) || fail "a real program failed after the flood"
[ "$got" = "hello from the root" ] || fail "read '$got' through the proxy"
echo "auth_flood passed"
