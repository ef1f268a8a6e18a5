#!/usr/bin/env bash
# Issue 21 §1, remote fds across exec: the handles an exec'd image inherits
# are held for it and released when it is done (the agent's fd count comes
# back to its baseline while the shell that ran 100 redirects is alive), a
# failed exec keeps nothing (EXEC_CANCEL), and a static image, which the
# layer cannot enter, gets EBADF on its first read or write of a forwarded
# fd, never end-of-file; so does an image exec'd by a raw execve (as a Go
# program's os/exec children are), which the exec hooks never see.  The content itself is compared with the target's
# by tests/realworld/exec-fds.yaml.
#   execfds.sh HARNESS LIBSHUNT FIXTURE NAME RWCONF LT_STATIC_IO LT_RAWEXEC
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 rwconf=$5 static=$6 rawexec=$7
. "$(dirname "$0")/../lib/session.sh"
st_init execfds
fail() { st_fail "$@"; }

st_up "$fixture"
runc exec "$ctr" /bin/sh -c 'seq 1 400000 > /srv/data/big.txt' ||
  fail "cannot prepare the target"
st_proxy
agent=$agent_pid
[ -n "$agent" ] || fail "no agent"
fds() { ls "/proc/$agent/fd" | wc -l; }
base=$(fds)
want=$(runc exec "$ctr" wc -c /srv/data/big.txt) || fail "wc in the target"
want=${want%% *}
printf '#!/nonexistent/interpreter\n' > "$work/badinterp"
chmod +x "$work/badinterp"

# Files above 4096 bytes are forwarded (an empty placeholder locally).
under() {
  env "LD_PRELOAD=$lib" "SHUNT_SOCKET=$sock" "SHUNT_TOKEN=$(cat "$sock.token")" \
    "SHUNT_CONFIG=$rwconf" SHUNT_SNAPSHOT_MAX=4096 SHUNT_LOG=warn \
    "SHUNT_LOG_FILE=$work/layer.log" "$@"
}

coproc S { under sh -c '
  for i in $(seq 1 100); do wc -c < /srv/data/big.txt; done | uniq -c
  exec 3< /srv/data/big.txt
  for i in $(seq 1 50); do "$0" 2>/dev/null; done
  exec 3<&-
  echo done
  read x' "$work/badinterp"; }
spid=$S_PID
read -r -t 120 counts <&"${S[0]}" || fail "the shell did not finish its redirects"
read -r -t 120 line <&"${S[0]}" || fail "the shell did not finish its failed execs"
[ "$line" = done ] || fail "shell: $line"
[ "$counts" = "100 $want" ] ||
  fail "100 x 'wc -c < REMOTE' printed '$counts', want '100 $want'"
for _ in $(seq 1 50); do [ "$(fds)" -le "$base" ] && break; sleep 0.1; done
during=$(fds)
echo x >&"${S[1]}"
wait "$spid"
echo "execfds: agent fds $base before, $during after 100 redirects and 50 failed execs (shell alive)"
[ "$during" -le "$base" ] ||
  fail "agent holds $during fds (baseline $base): handles kept for exec'd images leaked"

got=$(under sh -c '"$0" 0 r < /srv/data/big.txt' "$static" 2>&1 | grep '^lt_static_io')
[ "$got" = "lt_static_io: read fd 0: EBADF" ] || fail "static reader: '$got', want EBADF"
got=$(under sh -c '"$0" 1 w > /srv/rw/static.txt' "$static" 2>&1 | grep '^lt_static_io')
[ "$got" = "lt_static_io: write fd 1: EBADF" ] || fail "static writer: '$got', want EBADF"
# The shell is unchanged by those swaps (they happen in its child).
got=$(under sh -c 'exec 4< /srv/data/big.txt; "$0" 4 r; wc -c <&4' "$static" 2>&1 |
      grep -v '^shunt: ')
[ "$got" = "lt_static_io: read fd 4: EBADF
$want" ] || fail "after a static child the shell's fd reads: '$got'"
# lt_rawexec (its image has the fd back) execs cat with a raw execve.
got=$(under sh -c '"$0" /bin/cat < /srv/data/big.txt | wc -c' "$rawexec" 2>&1 |
      grep -v '^shunt: ')
[ "$got" = "/bin/cat: -: Bad file descriptor
0" ] || fail "cat exec'd by a raw execve: '$got', want EBADF"
grep -q " error: " "$work/layer.log" 2>/dev/null && fail "the layer logged errors"
echo "execfds passed"
