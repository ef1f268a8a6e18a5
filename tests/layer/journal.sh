#!/usr/bin/env bash
# The layer's call journal and observe-only mode, without a target:
#  - lt_journal prints the same with and without the observe-only layer
#    (and so do a shell pipeline and ls, with their exit statuses);
#  - its journal is exactly the expected records: one per outermost call,
#    fds and results, the forked child tagged 1.1 and the spawned one 1.2;
#  - observe-only needs no SHUNT_SOCKET and never connects to one that is
#    set (strace), while the active layer does try (the check can fail);
#  - the program cannot close the journal's fd;
#  - every journal.def row and each way a letter is shown: lt_journal every's
#    journal is exactly journal_every.want (made by the hand-written
#    wrappers the table replaced).
# Usage: journal.sh LIBSHUNT LT_JOURNAL
set -uo pipefail
lib=$1 prog=$2
# fd numbers are part of the records: nothing inherited beyond stdio
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
done
work=$(mktemp -d /tmp/shunt-journal.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
clean_env=(env -i PATH=/usr/bin:/bin HOME=/root)
observe=(LD_PRELOAD="$lib" SHUNT_MODE=observe)

# 1. behaviour unchanged
mkdir "$work/a" "$work/b"
"${clean_env[@]}" "$prog" "$work/a" > "$work/plain.out" 2>&1
"${clean_env[@]}" "${observe[@]}" SHUNT_JOURNAL="$work/b/journal" "$prog" "$work/b" \
  > "$work/obs.out" 2>&1
if diff "$work/plain.out" "$work/obs.out"; then ok "lt_journal: same output"; else bad "lt_journal: output differs"; fi
cmd='ls -la /usr/lib/x86_64-linux-gnu | head -20; cat /etc/hostname; ls /nonexistent; echo $((6*7)) | tr 4 x; exit 3'
"${clean_env[@]}" sh -c "$cmd" > "$work/p2" 2>&1; rc1=$?
"${clean_env[@]}" "${observe[@]}" SHUNT_JOURNAL="$work/j2" sh -c "$cmd" > "$work/o2" 2>&1; rc2=$?
if [ $rc1 = 3 ] && [ $rc2 = 3 ] && diff "$work/p2" "$work/o2"; then
  ok "sh pipeline: same output and status"
else bad "sh pipeline: differs (exit $rc1 / $rc2)"; fi
[ -s "$work/j2" ] && ok "sh pipeline: journalled" || bad "sh pipeline: empty journal"

# 2. the records
cat > "$work/want" <<'W'
1 open("D/a.txt", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3
1 write(3, 6) = 6
1 close(3) = 0
1 open("D/a.txt", O_RDONLY) = 3
1 read(3, 64) = 6
1 fstat(3) = 0 {mode=0100644, size=6}
1 close(3) = 0
1 stat("/nonexistent/x") = -1 ENOENT
1 access("D/a.txt", R_OK) = 0
1 mkdir("D/sub", 0755) = 0
1 rename("D/a.txt", "D/sub/b.txt") = 0
1 symlink("b.txt", "D/sub/l") = 0
1 readlink("D/sub/l") = 5 "b.txt"
1 unlink("D/sub/l") = 0
1 unlink("D/sub/b.txt") = 0
1 rmdir("D/sub") = 0
1.1 open("/etc/hostname", O_RDONLY) = 3
1.1 close(3) = 0
1 posix_spawn("/proc/self/exe", ["lt_journal", "child", "D"]) = 0
1.2 open("D/c.txt", O_RDONLY) = -1 ENOENT
1 getaddrinfo("localhost", "80") = 0 [127.0.0.1]
1 socket(AF_INET, SOCK_STREAM, 0) = 3
1 connect(3, 127.0.0.1:1) = -1 ECONNREFUSED
W
grep -v '^1 gethostname() = 0 "' "$work/b/journal" | sed "s|$work/b|D|g" > "$work/got"
if diff "$work/want" "$work/got"; then
  ok "journal records"
else bad "journal records differ (want vs got above)"; fi
grep -qx "1 gethostname() = 0 \"$(uname -n)\"" "$work/b/journal" && ok "gethostname record" ||
  bad "gethostname record"
[ "$(ls "$work/b")" = journal ] && ok "no exec side file left" || bad "left in the dir: $(ls "$work/b")"

# 3. nothing forwarded: observe-only ignores SHUNT_SOCKET
if command -v strace >/dev/null; then
  sock="$work/proxy.sock"
  "${clean_env[@]}" "${observe[@]}" SHUNT_SOCKET="$sock" SHUNT_TOKEN=x \
    strace -f -qq -e trace=connect -o "$work/st1" cat /etc/hostname > /dev/null 2>&1
  grep -q "proxy.sock" "$work/st1" && bad "observe-only connected to SHUNT_SOCKET" ||
    ok "observe-only: no connection to SHUNT_SOCKET"
  "${clean_env[@]}" LD_PRELOAD="$lib" SHUNT_SOCKET="$sock" SHUNT_TOKEN=x \
    strace -f -qq -e trace=connect -o "$work/st2" cat /etc/hostname > /dev/null 2>&1
  grep -q "proxy.sock" "$work/st2" && ok "control: the active layer does connect" ||
    bad "control: the active layer did not try SHUNT_SOCKET (the check above proves nothing)"
else
  echo "skip strace checks (no strace)"
fi

# 4. the journal fd is not the program's to close (close, close_range)
"${clean_env[@]}" "${observe[@]}" SHUNT_JOURNAL="$work/j4" "$prog" closeall > "$work/o4"
grep -qx 'open after closing: 3' "$work/o4" && ok "the program's fds closed, 3 is free again" ||
  bad "closeall printed: $(cat "$work/o4")"
grep -qx '1 open("/etc/hostname", O_RDONLY) = 3' "$work/j4" &&
  ok "journal survives the program closing every fd" || bad "journal after closeall: $(tail -3 "$work/j4")"

# 5. every journalled call, as the table shows it
mkdir "$work/e" "$work/e2"
"${clean_env[@]}" "$prog" every "$work/e2" > "$work/pe" 2>&1
"${clean_env[@]}" "${observe[@]}" SHUNT_JOURNAL="$work/je" "$prog" every "$work/e" > "$work/oe" 2>&1
diff "$work/pe" "$work/oe" && ok "every: same output" || bad "every: output differs"
if grep -v '^1 gethostname() = 0 "' "$work/je" | diff "$(dirname "$0")/journal_every.want" -; then
  ok "every: the records of every journalled call"
else bad "every: records differ (want vs got above)"; fi
[ -z "$(ls "$work/e")" ] && [ "$(ls "$work" | grep -c 'je.tag')" = 0 ] && ok "every: nothing left" ||
  bad "every: left: $(ls "$work/e" "$work" | grep -v '^/')"

[ $fails = 0 ] && echo "all journal checks passed" || { echo "$fails journal check(s) failed"; exit 1; }
