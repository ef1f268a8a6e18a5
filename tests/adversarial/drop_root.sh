#!/usr/bin/env bash
# A program that drops root under harness exec keeps its session, and
# nothing in it lets anyone else in (issue 13 §4, issue 21 §3):
#  1. setpriv to nobody, then cat: the target's file, and the target's
#     refusal (EACCES) for a 0600 root file and for writing a root file
#     (before: EIO and "cannot reach the session socket");
#  2. the token is nowhere the program can read it: not in its environment,
#     not in /proc/self/environ (harness exec never sets it), and a
#     `harness proxy` user's exported SHUNT_TOKEN is wiped by the layer
#     from both before main();
#  3. another local user cannot connect: the session's socket path refuses
#     nobody (EACCES), the broker has no path (an unnamed socket in
#     /proc/net/unix) and nobody cannot take it from the program's
#     /proc/PID/fd.
# Usage: drop_root.sh HARNESS LIBSHUNT.  Needs root, runc and setpriv (77).
set -uo pipefail
harness=$1 lib=$2
[ "$(id -u)" = 0 ] && command -v runc >/dev/null && command -v setpriv >/dev/null ||
  { echo "needs root, runc and setpriv"; exit 77; }
py=/usr/bin/python3
work=$(mktemp -d /tmp/shunt-adv-drop.XXXXXX)
chmod 755 "$work"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; "$harness" down adv-drop >/dev/null 2>&1; rm -rf "$work"' EXIT
cat > "$work/s.yaml" <<Y
target:
  name: adv-drop
  files:
    - {path: /srv/x.txt, content: "remote\n"}
    - {path: /srv/secret.txt, content: "root only\n", mode: 0600}
layer:
  files:
    read_write: ["^/srv/"]
Y
"$harness" up "$work/s.yaml" > "$work/up" 2>&1 || { cat "$work/up"; echo "FAIL up"; exit 1; }
fails=0
bad() { echo "FAIL $*"; fails=1; }

# 1. the session survives the change of user; the target's checks apply
"$harness" exec --target adv-drop --config "$work/s.yaml" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
  /bin/sh -c 'cat /srv/x.txt; echo "cat rc=$?"; cat /srv/secret.txt; echo "secret rc=$?"; echo y >> /srv/x.txt; echo "write rc=$?"' \
  > "$work/out" 2>&1
sed 's/^/  | /' "$work/out"
grep -qx 'remote' "$work/out" && grep -qx 'cat rc=0' "$work/out" ||
  bad "nobody could not read the target's 0644 file"
grep -q 'secret.txt: Permission denied' "$work/out" && grep -qx 'secret rc=1' "$work/out" ||
  bad "a 0600 root file was not refused with EACCES"
grep -q 'x.txt: Permission denied' "$work/out" ||
  bad "writing a root 0644 file as nobody was not refused with EACCES"
grep -q 'cannot reach the session socket\|Input/output error' "$work/out" &&
  bad "the session was lost"

# 2. no token to read
probe='import os,sys
env=open("/proc/self/environ","rb").read()
tok=sys.argv[1].encode() if len(sys.argv)>1 else b"SHUNT_TOKEN"
print("environ", "SHUNT_TOKEN" in os.environ, "proc", b"SHUNT_TOKEN" in env or tok in env)'
"$harness" exec --target adv-drop -- $py -c "$probe" > "$work/tok1" 2>&1
grep -qx 'environ False proc False' "$work/tok1" || { cat "$work/tok1"; bad "harness exec: the token is readable"; }
"$harness" exec --target adv-drop -- /bin/sh -c 'env; cat /proc/$$/environ' > "$work/tok2" 2>&1
grep -q 'SHUNT_TOKEN' "$work/tok2" && bad "harness exec: SHUNT_TOKEN in a shell's environment"
sock=$work/p.sock
"$harness" proxy --target adv-drop --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
pid=$!
for _ in $(seq 1 150); do grep -q "^proxy listening on" "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^proxy listening on" "$work/proxy.out" || bad "harness proxy did not come up"
token=$(cat "$sock.token")
LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$token $py -u -c "$probe
print(open('/srv/x.txt').read().strip())
os.setgid(65534); os.setuid(65534)
print(open('/srv/x.txt').read().strip())
os.execv('/bin/sh', ['sh', '-c', 'cat /srv/x.txt; env | grep -c SHUNT_TOKEN'])" "$token" > "$work/tok3" 2>&1
sed 's/^/  | /' "$work/tok3"
[ "$(tr '\n' ' ' < "$work/tok3")" = "environ False proc False remote remote remote 0 " ] ||
  bad "harness proxy: the exported token is readable, or the session was lost after setuid"

# 3. nobody else gets in
"$harness" exec --target adv-drop -- /bin/sh -c '
  for f in /proc/$$/fd/*; do
    l=$(readlink "$f"); case $l in socket:*) echo "$l";; esac
  done > '"$work"'/socks
  echo "$SHUNT_SOCKET $SHUNT_BROKER $$" > '"$work"'/sess
  setpriv --reuid=65534 --regid=65534 --clear-groups env -u LD_PRELOAD '"$py"' -c "
import socket, os, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(os.environ[\"SHUNT_SOCKET\"]); print(\"path: connected\")
except OSError as e:
    print(\"path:\", e.strerror)
try:
    os.open(\"/proc/%s/fd/%s\" % (sys.argv[1], os.environ[\"SHUNT_BROKER\"]), os.O_RDWR); print(\"fd: opened\")
except OSError as e:
    print(\"fd:\", e.strerror)
" $$' > "$work/other" 2>&1
sed 's/^/  | /' "$work/other"
grep -qx 'path: Permission denied' "$work/other" || bad "another user reached the session socket"
grep -q 'fd: opened' "$work/other" && bad "another user opened the program's broker"
grep -q '^fd: ' "$work/other" || bad "the /proc/PID/fd probe did not run"
# the program's sockets (its broker among them) have no path
for l in $(cat "$work/socks"); do
  ino=${l#socket:[}; ino=${ino%]}
  awk -v i="$ino" '$7 == i && NF >= 8 { print "named:", $8 }' /proc/net/unix
done > "$work/named"
[ -s "$work/socks" ] || bad "no socket found in the program's fds"
[ -s "$work/named" ] && { cat "$work/named"; bad "a socket of the program's session has a path"; }
[ "$fails" = 0 ] || exit 1
echo "all ok"
