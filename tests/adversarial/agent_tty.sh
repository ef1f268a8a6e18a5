#!/usr/bin/env bash
# A target's links to device nodes must not reach this host's devices
# (issue 13 §1): harness exec runs on a terminal (a pty made by python3),
# the target holds /srv/tty -> /dev/tty and /srv/null -> /dev/null, and
# the program writes to and reads from them remotely.  The write must not
# appear on the harness's terminal, the read must fail at once (the agent
# has no terminal; before, it was stopped by SIGTTIN and every later call
# of the session hung), /dev/null keeps working.
# Usage: agent_tty.sh HARNESS.  Needs root, runc and python3 (77).
set -uo pipefail
harness=$1
[ "$(id -u)" = 0 ] && command -v runc >/dev/null && command -v python3 >/dev/null ||
  { echo "needs root, runc and python3"; exit 77; }
work=$(mktemp -d /tmp/shunt-adv-tty.XXXXXX)
trap '"$harness" down adv-tty >/dev/null 2>&1; rm -rf "$work"' EXIT
fails=0
cat > "$work/s.yaml" <<Y
target:
  name: adv-tty
layer:
  files:
    read_write: ["^/srv/"]
Y
"$harness" up "$work/s.yaml" > "$work/up" 2>&1 || { sed 's/^/  | /' "$work/up"; echo "FAIL up"; exit 1; }
runc exec shunt-adv-tty-target /bin/sh -c 'ln -s /dev/tty /srv/tty && ln -s /dev/null /srv/null && ln -s /dev/pts/ptmx /srv/ptmx' ||
  { echo "FAIL planting the links"; exit 1; }

# on_pty SECONDS CMD...: runs CMD with a new pty as its controlling terminal,
# prints everything the terminal showed and "ELAPSED n" / "TIMEOUT".
on_pty() {
  python3 - "$@" <<'PY'
import os, pty, select, sys, time, signal
limit = float(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""; t0 = time.time(); status = None
while True:
    left = limit - (time.time() - t0)
    if left <= 0:
        os.killpg(pid, signal.SIGKILL); os.waitpid(pid, 0); print("TIMEOUT"); break
    r, _, _ = select.select([fd], [], [], min(left, 0.2))
    if r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            b = b""
        out += b
    w, st = os.waitpid(pid, os.WNOHANG)
    if w == pid:
        try:
            while select.select([fd], [], [], 0.2)[0]:
                b = os.read(fd, 4096)
                if not b: break
                out += b
        except OSError:
            pass
        status = st; break
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("ELAPSED %d" % int(time.time() - t0))
PY
}
check() { # NAME FILE want-pattern... ; a pattern starting with ! must not match
  local name=$1 f=$2; shift 2
  for p in "$@"; do
    if [ "${p:0:1}" = '!' ]; then
      grep -qE -- "${p:1}" "$f" && { echo "FAIL $name: matched: ${p:1}"; sed 's/^/  | /' "$f"; fails=$((fails+1)); return; }
    else
      grep -qE -- "$p" "$f" || { echo "FAIL $name: no line matches: $p"; sed 's/^/  | /' "$f"; fails=$((fails+1)); return; }
    fi
  done
  echo "ok   $name"
}
x="$harness exec --target adv-tty --config $work/s.yaml --"
on_pty 25 $x /bin/sh -c 'echo TTY-WRITE-CANARY > /srv/tty; echo "write rc=$?"; echo x > /srv/null; echo "null rc=$?"' > "$work/w" 2>&1
check "a write through a target's link to /dev/tty does not reach the harness's terminal" "$work/w" \
  '!TTY-WRITE-CANARY' '^write rc=[1-9]' '^null rc=0$'
on_pty 25 $x /bin/sh -c 'head -c1 /srv/tty; echo "read rc=$?"; cat /srv/null; echo "cat rc=$?"; true > /srv/ptmx; echo "ptmx rc=$?"' > "$work/r" 2>&1
check "a read through a target's link to /dev/tty fails at once; the session goes on" "$work/r" \
  '!TIMEOUT' '^read rc=[1-9]' '^cat rc=0$' '^ptmx rc=[1-9]' 'ELAPSED ([0-9]|1[0-4])$'
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
