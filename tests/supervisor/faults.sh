#!/usr/bin/env bash
# Faults under the supervisor engine (issue 17 §3): one case per run, each
# against its own target brought up from faults.yaml, the program (a static
# binary, sf_CASE.c) run with `harness exec --engine supervisor`.
#   faults.sh HARNESS FIXTURE NAME CASE PROGRAM
# CASE: agentdeath  the session's shunt-agent killed (SIGKILL) mid-run
#       threads     200 threads making remote and local calls at once
#       forks       100 children at once, each of which execs
#       killed      threads and children killed while their call is
#                   pending in the supervisor
#       svdeath     the shunt-supervisor process killed (SIGKILL) mid-run
# SHUNT_TEST_KEEP=1 keeps the work dir.
set -uo pipefail
harness=$1 fixture=$2 name=$3 case=$4 prog=$5

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
if [ -e /srv/sf ]; then
  echo "FAIL: /srv/sf exists on this host: the checks would prove nothing"
  exit 1
fi
. "$(dirname "$0")/../lib/session.sh"
st_init "sfault-$case"
fail() {
  [ -s "$work/prog.err" ] && sed 's/^/program stderr: /' "$work/prog.err" | tail -40 >&2
  [ -s "$work/sv.log" ] && sed 's/^/supervisor: /' "$work/sv.log" | tail -40 >&2
  st_fail "$@"
}
st_up "$fixture"
ip=$(sed -n 's/.* is up: ip \([0-9.]*\),.*/\1/p' "$work/up.log")
[ -n "$ip" ] || fail "no target address in: $(cat "$work/up.log")"
printf 'local content' > "$work/local.txt"

# The program under the supervisor, as a coprocess: its stdout is read
# here, its stdin is where the script's word goes.
sv_exec() {
  coproc P { exec timeout -k 5 150 "$harness" exec --engine supervisor \
      --log warn --log-file "$work/sv.log" --target "$name" -- "$@" \
      2> "$work/prog.err"; }
  ppid_=$P_PID
}
# Waits for the program's line LINE (other lines are kept in prog.out).
expect_line() {
  local want=$1 line
  while read -r -t 60 line <&"${P[0]}"; do
    echo "$line" >> "$work/prog.out"
    [ "$line" = "$want" ] && return 0
  done
  fail "the program did not say \"$want\""
}
# The rest of the program's output, then its exit status in $rc.
finish() {
  cat <&"${P[0]}" >> "$work/prog.out"
  wait "$ppid_"
  rc=$?
  cat "$work/prog.out"
}
# A plain run: output in prog.out, status in rc.
run() {
  timeout -k 5 200 "$harness" exec --engine supervisor --log warn \
    --log-file "$work/sv.log" --target "$name" -- "$@" \
    > "$work/prog.out" 2> "$work/prog.err"
  rc=$?
  cat "$work/prog.out"
}

case "$case" in
agentdeath)
  sv_exec "$prog" "$work/local.txt"
  expect_line ready
  # The session's agent is the harness's child (its own resolver helper
  # is the agent's child and goes with it); timeout(1) is the coprocess.
  hx=$(pgrep -P "$ppid_" -x harness | head -n1)
  agent=$(pgrep -P "${hx:-0}" -x shunt-agent | head -n1)
  [ -n "$agent" ] || fail "no shunt-agent under harness exec (${hx:-none})"
  kill -9 "$agent"
  for _ in $(seq 1 100); do kill -0 "$agent" 2>/dev/null || break; sleep 0.05; done
  echo go >&"${P[1]}"
  finish
  [ "$rc" -eq 0 ] || fail "sf_agentdeath: status $rc (want 0)"
  grep -qx "sf_agentdeath: all checks passed" "$work/prog.out" ||
    fail "sf_agentdeath did not pass its checks"
  ;;
threads)
  # Every supervisor worker opens its own proxy connection at its first
  # remote call: a burst makes many at once (see issue 17's report: the
  # proxy drops pre-HELLO connections beyond PROXY_MAX_UNAUTH, and the
  # worker then answers EIO for a second).
  for i in $(seq 0 9); do printf 'local file %d\n' "$i" > "$work/l$i.txt"; done
  run "$prog" "$work" 200 20
  [ "$rc" -eq 0 ] || fail "sf_threads: status $rc (want 0)"
  grep -qx "sf_threads: 200 threads x 20 rounds (4000 done) in .* s" "$work/prog.out" ||
    fail "sf_threads: not every round done"
  ;;
forks)
  host=$(sed -n 's/^  hostname: //p' "$fixture")
  run "$prog" 100 "$host"
  [ "$rc" -eq 0 ] || fail "sf_forks: status $rc (want 0)"
  grep -qx "sf_forks: 100 of 100 children saw the target" "$work/prog.out" ||
    fail "sf_forks: not every child saw the target"
  ;;
killed)
  # UDP to the target's own address, a port nobody listens on: the relay
  # exists, no answer ever comes back.
  run "$prog" "$ip" 9 4 20
  [ "$rc" -eq 0 ] || fail "sf_killed: status $rc (want 0)"
  grep -qx "sf_killed: 80 threads killed in a pending recvfrom" "$work/prog.out" &&
    grep -qx "sf_killed: 4 children killed in a pending recvfrom" "$work/prog.out" ||
    fail "sf_killed: not every caller was killed in its call"
  ;;
svdeath)
  sv_exec "$prog" "$ip" 9 "$work/local.txt"
  expect_line ready
  # shunt-supervisor leaves the program's tree (double fork, setsid): it is
  # the process whose command line names this very program run.
  sv=$(pgrep -f "^shunt-supervisor -- $prog $ip 9 $work/local.txt\$" | head -n1)
  [ -n "$sv" ] || fail "no shunt-supervisor process for this run"
  grep -q 'anon_inode:seccomp notify' < <(ls -l "/proc/$sv/fd" 2>/dev/null) ||
    fail "process $sv holds no seccomp listener"
  kill -9 "$sv"
  for _ in $(seq 1 100); do [ -d "/proc/$sv/fd" ] && [ -n "$(ls "/proc/$sv/fd" 2>/dev/null)" ] || break; sleep 0.05; done
  echo go >&"${P[1]}"
  finish
  [ "$rc" -eq 0 ] || fail "sf_svdeath: status $rc (want 0)"
  grep -qx "sf_svdeath: all checks passed" "$work/prog.out" ||
    fail "sf_svdeath did not pass its checks"
  ;;
*)
  echo "faults.sh: unknown case $case" >&2
  exit 2
  ;;
esac
echo "supervisor fault $case: passed"
