#!/usr/bin/env bash
# Real network clients no one here wrote, run with `harness exec` against the
# ntest target and with `runc exec` inside it: stdout and exit status must
# match.  The cluster (tests/net/ntest.yaml): an HTTP service, redis, the
# cluster DNS and names only the target resolves.
#   net_test.sh HARNESS_BIN FIXTURE_YAML GROUP
# GROUP: setup (harness up + a 4 MiB file on the HTTP service), cleanup
# (harness down), or one of the check groups below.  Every check of a group
# runs; the group fails if one does.  SHUNT_TEST_SHOW_LOG=1 shows the
# layer's stderr.
set -uo pipefail
harness=$1 fixture=$2 group=$3
src=$(cd "$(dirname "$0")" && pwd)
name=ntest
ctr=shunt-$name-target
port=8080

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
# The work directory is under /tmp, local by policy; the same path is made
# in the target (a tmpfs there) for the files both runs use.
work=$(mktemp -d /tmp/shunt-net-test.XXXXXX)
trap 'rm -rf "$work"; runc exec "$ctr" rm -rf "$work" 2>/dev/null' EXIT
failed=0 passed=0

. "$(dirname "$0")/../lib/compare.sh"
. "$(dirname "$0")/../lib/leaks.sh"

# stage FILE...: copies files to the same path under $work locally and in
# the target, so that both runs name them alike.
stage() {
  for f in "$@"; do
    cp "$f" "$work/" && chmod 755 "$work/$(basename "$f")"
    runc exec "$ctr" sh -c "mkdir -p $work && cat > $work/$(basename "$f") && chmod 755 $work/$(basename "$f")" \
      < "$f" || { fail "staging $f in the target"; return 1; }
  done
}

# rust_client: builds tests/net/client.rs with rustc -O (std only, offline)
# into $work/rs_client, locally and in the target.
rust_client() {
  local rustc
  rustc=$(command -v rustc || ls "${HOME:-/root}/.cargo/bin/rustc" 2>/dev/null) ||
    { fail "rustc not found (ci/setup installs it)"; return 1; }
  mkdir -p "$work/build"
  "$rustc" -O -o "$work/build/rs_client" "$src/client.rs" 2> "$work/rustc.err" ||
    { fail "rustc -O client.rs" "$work/rustc.err"; return 1; }
  stage "$work/build/rs_client"
}

case "$group" in
setup)
  "$harness" down "$name" >/dev/null 2>&1
  "$harness" up "$fixture" || { echo "FAIL: harness up"; exit 1; }
  runc exec shunt-$name-api sh -ec "head -c 4194304 /dev/zero | tr '\\0' 'n' > /srv/www/big.bin" ||
    { echo "FAIL: making /srv/www/big.bin"; exit 1; }
  runc exec "$ctr" redis-cli -h redis.cluster FLUSHALL > /dev/null
  echo "target $name is up"
  exit 0
  ;;
cleanup)
  "$harness" down "$name"
  exit 0
  ;;
host)
  # Without the layer the local host cannot resolve or reach these names.
  for n in api.cluster redis.cluster dns-only.cluster only-in-target.example; do
    getent hosts "$n" > "$work/o" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then pass "getent hosts $n fails on the local host (status $rc)"; else fail "getent hosts $n resolves on the local host" "$work/o"; fi
  done
  curl -s -m 10 "http://api.cluster:$port/known.txt" > "$work/o" 2>&1
  rc=$?
  if [ $rc -eq 6 ]; then pass "curl cannot resolve api.cluster on the local host (status 6)"; else fail "curl on the local host: status $rc (want 6)" "$work/o"; fi
  /usr/bin/python3 -c "import socket; socket.getaddrinfo('api.cluster', $port)" > "$work/o" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q gaierror "$work/o"; then pass "python getaddrinfo fails on the local host"; else fail "python getaddrinfo on the local host: status $rc" "$work/o"; fi
  ;;
curl)
  compare "curl by name" curl -sS "http://api.cluster:$port/known.txt"
  compare "curl by alias" curl -sS "http://api.internal:$port/index.html"
  compare "curl by short name (search domain)" curl -sS "http://api:$port/known.txt"
  compare "curl -w status, size, remote ip" curl -sS -o /dev/null \
    -w '%{http_code} %{size_download} %{remote_ip} %{remote_port}\n' "http://api.cluster:$port/known.txt"
  compare "curl of 4 MiB | sha256sum" sh -c "curl -sS http://api.cluster:$port/big.bin | sha256sum"
  compare "curl, several URLs on one keep-alive connection" curl -sS \
    "http://api.cluster:$port/known.txt" "http://api.cluster:$port/index.html" "http://api.cluster:$port/known.txt"
  compare "curl, 8 in parallel" sh -c "for i in 1 2 3 4 5 6 7 8; do curl -sS http://api.cluster:$port/big.bin | sha256sum & done; wait"
  compare_status "curl 404" curl -sS -f -o /dev/null "http://api.cluster:$port/missing.txt"
  compare_status "curl to a closed port (refused)" curl -sS -o /dev/null "http://api.cluster:9/"
  compare_status "curl to an unknown name" curl -sS -o /dev/null "http://no-such-name.cluster:$port/"
  ;;
redis)
  compare "redis-cli SET" redis-cli -h redis.cluster SET ntest:k v
  compare "redis-cli GET" redis-cli -h redis.cluster GET ntest:k
  compare "redis-cli by short name, PING" redis-cli -h redis PING
  # What the local run writes, the target reads.
  local_ redis-cli -h redis.cluster SET ntest:from-local "written under the layer"
  remote redis-cli -h redis.cluster GET ntest:from-local
  if [ "$lrc" -eq 0 ] && [ "$(cat "$work/r.out")" = "written under the layer" ]; then
    pass "a SET under the layer is seen from the target"
  else
    fail "a SET under the layer: status $lrc, the target reads '$(cat "$work/r.out")'" "$work/l.out" "$work/l.err"
  fi
  head -c 1048576 /dev/urandom | base64 -w0 > "$work/big.val"
  runc exec "$ctr" redis-cli -h redis.cluster -x SET ntest:big < "$work/big.val" > /dev/null
  compare "redis-cli GET of a 1.4 MB value | sha256sum" sh -c 'redis-cli -h redis.cluster --raw GET ntest:big | sha256sum'
  compare "redis-cli pipe of 1000 commands" sh -c 'seq 1 1000 | sed "s/^/RPUSH ntest:list /" | redis-cli -h redis.cluster > /dev/null; redis-cli -h redis.cluster LLEN ntest:list; redis-cli -h redis.cluster DEL ntest:list'
  compare "redis-cli INFO server (stable fields)" sh -c \
    "redis-cli -h redis.cluster INFO server | grep -E '^(redis_mode|tcp_port|redis_version):'"
  ;;
getent)
  compare "getent hosts api.cluster" getent hosts api.cluster
  compare "getent hosts of a name only in the target's hosts" getent hosts only-in-target.example
  compare "getent hosts of its alias" getent hosts alias-only-in-target.example
  compare "getent hosts of a name only in the cluster DNS" getent hosts dns-only.cluster
  compare "getent ahostsv4 redis (search domain)" getent ahostsv4 redis
  compare "getent hosts of the target's own name" getent hosts ntest-host
  compare "getent hosts of several names" getent hosts api.cluster redis.cluster api.internal
  compare_status "getent hosts of an unknown name" getent hosts no-such-name.cluster
  compare "hostname (the target's)" hostname
  compare "/proc/sys/kernel/hostname (the target's UTS name)" cat /proc/sys/kernel/hostname
  compare "uname -n (the target's)" uname -n
  ;;
node)
  stage "$src/client.js"
  compare "node: dns.resolve4, dns.lookup, http.get" node "$work/client.js" api.cluster $port
  compare "node: by alias" node "$work/client.js" api.internal $port
  ;;
rust)
  if rust_client; then
    compare "rust: TcpStream::connect, peer_addr, GET" "$work/rs_client" "api.cluster:$port" /known.txt
    compare "rust: 4 MiB GET" "$work/rs_client" "api.cluster:$port" /big.bin
  fi
  ;;
python)
  stage "$src/client.py"
  compare "python: urllib, socket.create_connection, resolver calls" /usr/bin/python3 "$work/client.py" api.cluster
  ;;
leaks)
  # strace sees the real system calls: the addresses the program's socket
  # really connected or sent to, after the layer rewrote them.
  stage "$src/client.js" "$src/client.py"
  no_leak "curl" 1 curl -sS -o /dev/null "http://api.cluster:$port/known.txt"
  no_leak "redis-cli" 1 redis-cli -h redis.cluster PING
  no_leak "getent hosts" 0 getent hosts api.cluster dns-only.cluster only-in-target.example
  no_leak "getent ahosts" 0 getent ahosts redis
  no_leak "node" 1 node "$work/client.js" api.cluster $port
  no_leak "python" 1 /usr/bin/python3 "$work/client.py" api.cluster
  if rust_client; then
    no_leak "rust" 1 "$work/rs_client" "api.cluster:$port" /known.txt
  fi
  ;;
filter)
  # The outgoing filter: loopback stays local unless a rule makes it remote.
  # A server listens on the target's own loopback only; locally nothing
  # listens on that port.
  fport=9917
  if (exec 3<>/dev/tcp/127.0.0.1/$fport) 2>/dev/null; then
    echo "SKIP: something listens on local port $fport"
    exit 77
  fi
  runc exec "$ctr" sh -c "mkdir -p /tmp/ft && echo target-loopback > /tmp/ft/x.txt" ||
    { fail "preparing the target"; }
  runc exec -d "$ctr" /usr/bin/python3 -m http.server "$fport" --bind 127.0.0.1 --directory /tmp/ft
  for _ in $(seq 1 50); do
    runc exec "$ctr" curl -s -o /dev/null "http://127.0.0.1:$fport/x.txt" && break
    sleep 0.1
  done
  local_ curl -sS -m 10 "http://127.0.0.1:$fport/x.txt"
  if [ "$lrc" -eq 7 ]; then pass "loopback stays local by default (curl status 7)"; else fail "loopback without a rule: curl status $lrc" "$work/l.out" "$work/l.err"; fi
  printf 'layer:\n  network:\n    remote: ["tcp 127.0.0.1:%s"]\n' "$fport" > "$work/filter.yaml"
  (cd /tmp && timeout 60 "$harness" exec --target "$name" --config "$work/filter.yaml" -- \
     curl -sS -m 10 "http://127.0.0.1:$fport/x.txt") > "$work/l.out" 2> "$work/l.err"
  lrc=$?
  if [ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = target-loopback ]; then
    pass "a net_remote rule sends 127.0.0.1:$fport to the target's loopback"
  else
    fail "with the rule: curl status $lrc" "$work/l.out" "$work/l.err"
  fi
  runc exec "$ctr" pkill -f "http.server $fport" >/dev/null 2>&1
  ;;
*)
  echo "unknown group $group" >&2
  exit 2
  ;;
esac
echo "$group: $passed passed, $failed failed"
[ $failed -eq 0 ]
