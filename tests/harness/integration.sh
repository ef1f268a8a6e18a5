#!/usr/bin/env bash
# Integration test of harness up / status / down with real runc containers:
# services answer from the target's network only, cluster DNS, files, hosts,
# env, idempotent up, recovery after kill -9 and after partial state, and a
# down that leaves nothing behind.  Cleans up on any exit.
#   integration.sh HARNESS_BIN FIXTURES_DIR
set -uo pipefail
harness=$1 fixtures=$2
name=hitest
target=shunt-$name-target
if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
work=$(mktemp -d /tmp/shunt-harness-itest.XXXXXX)
cleanup() {
  "$harness" down "$name" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  "$harness" status "$name" >&2
  for log in /run/shunt/targets/$name/*/log; do
    [ -f "$log" ] && { echo "-- $log" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}
# in_target CMD...: runs CMD in the target container (its mounts, netns, env).
in_target() { runc exec "$target" "$@"; }
json() { "$harness" status --json "$name" | python3 -c "import json,sys; d=json.load(sys.stdin)['targets'][0]; print($1)"; }

# The scenario is copied so that a changed configuration can be tested.
cp -r "$fixtures/hitest.yaml" "$fixtures/data" "$work/"
scenario=$work/hitest.yaml
host_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

step "up"
"$harness" down "$name" >/dev/null 2>&1
"$harness" up "$scenario" > "$work/up.out" || fail "harness up failed"
cat "$work/up.out"
grep -q "^target $name is up: ip 10.200.[0-9]*.2, init pid [0-9]*\$" "$work/up.out" ||
  fail "no 'is up' line"

step "status"
"$harness" status | grep -q "^$name: up " || fail "status does not list $name as up"
"$harness" status "$name" >/dev/null || fail "status $name exits non-zero"
[ "$(json "d['state']")" = up ] || fail "status --json state"
[ "$(json "sum(c['alive'] for c in d['containers'])")" = 4 ] || fail "not 4 live containers"
ip=$(json "d['ip']")
net=${ip%.2}
init_pid=$(json "d['init_pid']")
[ "$(json "d['netns']")" = "$target" ] || fail "netns name"
[ -e "/run/netns/$target" ] || fail "no /run/netns/$target"

step "files, hosts, hostname and env in the target"
[ "$(in_target cat /etc/app/config.json)" = '{"mode": "remote"}' ] || fail "config.json content"
[ "$(in_target stat -c %a /etc/app/config.json)" = 640 ] || fail "config.json mode"
in_target cat /srv/data/payload.txt | cmp -s - "$fixtures/data/payload.txt" || fail "from: file content"
[ "$(in_target stat -c %a /srv/data/payload.txt)" = 600 ] || fail "from: file mode"
in_target grep -Eq '^10\.200\.250\.7[[:space:]]+only-in-target\.example also-only\.example$' /etc/hosts ||
  fail "/etc/hosts lacks the hosts: entry"
in_target grep -Eq "^$net\.10[[:space:]]+api api\.cluster api\.internal\$" /etc/hosts ||
  fail "/etc/hosts lacks the cluster names"
runc exec "shunt-$name-api" grep -q only-in-target /etc/hosts && fail "hosts: entry leaked into a service"
[ "$(in_target hostname)" = hitest-host ] || fail "hostname"
tr '\0' '\n' < "/proc/$init_pid/environ" | grep -qx 'GREETING=hello world' || fail "init's environment"
tr '\0' '\n' < "/proc/$init_pid/environ" | grep -q '^PATH=/' || fail "default PATH"
in_target grep -qx "nameserver $net.3" /etc/resolv.conf || fail "resolv.conf nameserver"
[ "$(readlink "/proc/$init_pid/exe")" != "" ] || fail "init exe"
in_target test -w /tmp || fail "/tmp not writable"
in_target sh -c 'touch /usr/x 2>/dev/null' && fail "/usr is writable in the target"

step "cluster DNS (dnsmasq) and services, from inside the target"
dnsq='import socket,struct,sys
q=struct.pack(">6H",0x5151,0x100,1,0,0,0)+b"".join(bytes([len(p)])+p.encode() for p in sys.argv[1].split("."))+b"\0"+struct.pack(">2H",1,1)
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); s.sendto(q,(sys.argv[2],53)); r=s.recv(512)
i=len(q)
for _ in range(struct.unpack(">H",r[6:8])[0]):
    i+=2 if r[i]&0xc0==0xc0 else r.index(0,i)+1-i
    t,c,ttl,l=struct.unpack(">HHIH",r[i:i+10]); i+=10
    if t==1: print(socket.inet_ntoa(r[i:i+4]))
    i+=l'
[ "$(in_target python3 -c "$dnsq" api.cluster "$net.3")" = "$net.10" ] || fail "dnsmasq: api.cluster"
[ "$(in_target python3 -c "$dnsq" api.internal "$net.3")" = "$net.10" ] || fail "dnsmasq: alias"
[ "$(in_target python3 -c "$dnsq" redis.cluster "$net.3")" = "$net.11" ] || fail "dnsmasq: redis.cluster"
[ "$(in_target getent hosts db.cluster | awk '{print $1}')" = 10.200.250.8 ] ||
  fail "db.cluster (a dns.records entry, DNS only) does not resolve through the resolver"
in_target getent hosts www.example.com >/dev/null && fail "an outside name resolved"
fetch='import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode(),end="")'
[ "$(in_target python3 -c "$fetch" http://api.cluster:8080/hello.txt)" = "hello from api" ] ||
  fail "HTTP by name from the target"
[ "$(ip netns exec "$target" /usr/bin/python3 -c "$fetch" "http://$net.10:8080/hello.txt")" = "hello from api" ] ||
  fail "HTTP by address from the target's netns"
ping='import socket; s=socket.create_connection(("redis.cluster",6379),5); s.sendall(b"PING\r\n"); print(s.recv(16).decode().strip())'
[ "$(in_target python3 -c "$ping")" = "+PONG" ] || fail "redis PING"

step "the host's network namespace is untouched"
# No packet is sent: the host must simply have no address, route or link of
# the cluster (10.200.0.0/16), so nothing there can reach it.
ip -o addr show | grep -q ' 10\.200\.' && fail "a 10.200.x address in the host netns"
ip route show table all | grep -q '10\.200\.' && fail "a 10.200.x route in the host netns"
[ "$(ip -o link show | awk -F': ' '{print $2}' | sort)" = "$host_links_before" ] ||
  fail "links in the host netns changed"
ip -n "$target" route show | grep -q default && fail "the target has a default route"

step "up again is a no-op"
"$harness" up "$scenario" > "$work/up2.out" || fail "second up failed"
grep -q "^target $name is already up: ip $ip, init pid $init_pid\$" "$work/up2.out" ||
  { cat "$work/up2.out"; fail "second up was not a no-op"; }

step "kill -9 a service, then up recovers"
api_pid=$(cat "/run/shunt/targets/$name/shunt-$name-api/pid")
kill -9 "$api_pid"
for _ in $(seq 50); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
"$harness" status "$name" > "$work/status.out" && fail "status exits 0 for a degraded target"
grep -q "^$name: degraded" "$work/status.out" || fail "status does not show degraded"
"$harness" up "$scenario" > "$work/up3.out" || fail "up after kill -9 failed"
grep -q "not running.*recreating" "$work/up3.out" || fail "up did not say why it recreated"
[ "$(in_target python3 -c "$fetch" http://api.cluster:8080/hello.txt)" = "hello from api" ] ||
  fail "HTTP after recovery"

step "a changed configuration recreates the target"
sed -i 's/GREETING: "hello world"/GREETING: "hello again"/' "$scenario"
"$harness" up "$scenario" > "$work/up4.out" || fail "up after change failed"
grep -q "configuration changed" "$work/up4.out" || fail "up did not notice the change"
init_pid=$(json "d['init_pid']")
tr '\0' '\n' < "/proc/$init_pid/environ" | grep -qx 'GREETING=hello again' || fail "new env not applied"

step "partial state (a crashed up) is cleaned and recreated"
runc delete -f "$target" >/dev/null
ip netns delete "shunt-$name-redis"
"$harness" up "$scenario" > "$work/up5.out" || fail "up over partial state failed"
"$harness" status "$name" >/dev/null || fail "not up after recovering partial state"
"$harness" down "$name" >/dev/null || fail "down failed"
ip netns add "shunt-$name-br"              # leftovers without any state
ip netns add "shunt-$name-api"
"$harness" status | grep -q "^$name: stale" || fail "leftovers not listed as stale"
"$harness" up "$scenario" > "$work/up6.out" || fail "up over leftovers failed"
grep -q "removed leftovers" "$work/up6.out" || fail "up did not report the leftovers"

step "down leaves nothing behind"
"$harness" down "$name" > "$work/down.out" || fail "down failed"
grep -qx "target $name is down" "$work/down.out" || fail "down output"
ls /run/netns | grep -q "^shunt-$name-" && fail "netns left: $(ls /run/netns | grep "^shunt-$name-")"
runc list -q | grep -q "^shunt-$name-" && fail "runc containers left"
[ -e "/run/shunt/targets/$name" ] && fail "state dir left"
[ -e "/run/shunt/targets/.$name.lock" ] && fail "lock file left"
"$harness" down "$name" | grep -qx "target $name: nothing to remove" || fail "second down"
"$harness" status "$name" >/dev/null && fail "status exits 0 for a target that is down"
echo "all harness integration checks passed"
