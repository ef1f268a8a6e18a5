#!/usr/bin/env bash
# Nothing secret outlives a session, also after kill -9 (issue 13 §4): a
# session (harness proxy --root, no target needed) is killed with SIGKILL;
# the next session's start removes its /tmp/shunt-session-* directory and
# the token (and socket) it wrote next to --socket; a session that ends
# normally leaves nothing; a live session's files are never touched.
# Usage: leftovers.sh HARNESS.
set -uo pipefail
harness=$1
work=$(mktemp -d /tmp/shunt-adv-left.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done; rm -rf "$work"' EXIT
mkdir "$work/root"
fails=0
bad() { echo "FAIL $1"; fails=$((fails+1)); }
# start_proxy SOCK: starts harness proxy, waits for its socket; sets $pp
start_proxy() {
  "$harness" proxy --root "$work/root" --socket "$1" > "$1.log" 2>&1 &
  pp=$!; pids+=("$pp")
  for _ in $(seq 100); do [ -S "$1" ] && [ -f "$1.token" ] && break; sleep 0.1; done
  [ -S "$1" ] || { bad "proxy on $1 did not start: $(cat "$1.log")"; exit 1; }
}
session_dir() { # the session directory held open by pid $1
  ls -l /proc/$1/fd 2>/dev/null | grep -o '/tmp/shunt-session-[A-Za-z0-9]*' | head -1
}

start_proxy "$work/a.sock"; a=$pp
sleep 0.3
adir=$(ls -d /tmp/shunt-session-* 2>/dev/null | while read -r d; do
  ls -l /proc/$a/fd 2>/dev/null | grep -q -- "$d" && echo "$d"; done | head -1)
[ -z "$adir" ] && adir=$(ls -dt /tmp/shunt-session-* 2>/dev/null | head -1)
kill -9 "$a"; wait "$a" 2>/dev/null
[ -d "$adir" ] && echo "     killed session left $adir: $(ls "$adir" | tr '\n' ' ')"

start_proxy "$work/b.sock"; b=$pp
if [ -n "$adir" ] && [ -e "$adir" ]; then bad "the dead session's directory $adir is still there after the next start: $(ls "$adir" | tr '\n' ' ')"
else echo "ok   the next session removed the dead session's directory"; fi
if [ -e "$work/a.sock.token" ]; then bad "the dead session's token $work/a.sock.token is still there"
else echo "ok   the next session removed the dead session's token next to its socket"; fi
[ -e "$work/a.sock" ] && bad "the dead session's socket is still there" || echo "ok   and its socket"
if [ -f "$work/b.sock.token" ] && [ -S "$work/b.sock" ]; then echo "ok   the live session's token and socket are there"
else bad "the live session lost its files"; fi
# a third session must not touch the live second one's files
start_proxy "$work/c.sock"; c=$pp
[ -f "$work/b.sock.token" ] && echo "ok   a new session leaves a live session alone" || bad "a new session removed a live session's token"
bdir=$(ls -d /tmp/shunt-session-* | while read -r d; do ls -l /proc/$b/fd 2>/dev/null | grep -q -- "$d" && echo "$d"; done | head -1)
kill "$b" "$c"; wait "$b" "$c" 2>/dev/null
if [ -n "$bdir" ] && [ -e "$bdir" ]; then bad "a session that ended left $bdir"; else echo "ok   a session that ends leaves no directory"; fi
[ -e "$work/b.sock.token" ] && bad "a session that ended left its token" || echo "ok   nor its token"
# a stopped agent: the session's SIGTERM comes with SIGCONT, so teardown
# does not sit out the 3 s grace (a harness killed meanwhile left its files)
start_proxy "$work/d.sock"; d=$pp
agent=$(ps -o pid= --ppid "$d" | head -1 | tr -d ' ')
if [ -z "$agent" ]; then bad "no agent under the proxy"; else
  kill -STOP "$agent"
  t0=$(date +%s%N); kill "$d"; wait "$d" 2>/dev/null; t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  if [ "$ms" -lt 2000 ]; then echo "ok   a stopped agent is stopped at once ($ms ms)"
  else bad "the teardown of a stopped agent took $ms ms"; fi
fi
# harness exec's layer configuration lives in SESSION-conf (readable by a
# program that drops root); a session start must leave it while SESSION
# lives (programs read it at every exec: removed under a live session, a
# concurrent test's programs ran without their policy) and remove it with
# SESSION.  A held session directory stands in for a live harness exec.
live=$(mktemp -d /tmp/shunt-session-XXXXXX)
echo x > "$live/owned-by-test"
mkdir "$live-conf"; echo "log_level: warn" > "$live-conf/layer.conf"
flock -o "$live" sleep 30 & holder=$!; pids+=("$holder")
sleep 0.3
start_proxy "$work/e.sock"; e=$pp
if [ -f "$live-conf/layer.conf" ]; then echo "ok   a new session leaves a live session's configuration"
else bad "a new session removed a live session's configuration ($live-conf)"; fi
kill "$holder" "$e"; wait "$holder" "$e" 2>/dev/null
start_proxy "$work/f.sock"; f=$pp
[ -e "$live" ] && bad "a dead session's directory $live is still there"
if [ -e "$live-conf" ]; then bad "a dead session's configuration $live-conf is still there"
else echo "ok   a dead session's configuration goes with it"; fi
kill "$f"; wait "$f" 2>/dev/null
rm -rf "$live" "$live-conf"
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
