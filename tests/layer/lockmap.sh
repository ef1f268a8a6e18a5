#!/usr/bin/env bash
# Locks and mappings of remote files with real programs (rg, python3's mmap
# and sqlite3 modules, the sqlite3 CLI, flock(1)), inside the target and
# locally under the layer.
#   lockmap.sh HARNESS LIBSHUNT FIXTURE NAME CONFIG map|lock [LT_LOCKSIG]
# map:  mmap of a 70 MiB and a 6 GiB sparse read-only file and of a
#       write-mode file: the content of the target, or ENODEV; never SIGBUS.
# lock: fcntl and flock locks of write-mode files exclude local processes
#       and processes inside the target from each other; SQLite in rollback
#       (DELETE) mode works across processes, WAL mode fails cleanly.
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 config=$5 part=$6 locksig=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/session.sh"
st_init "ltest-$part"
fail() { st_fail "$@"; }

st_up "$fixture"
st_proxy
py=/usr/bin/python3
token=$(cat "$sock.token")
T() { runc exec "$ctr" "$@"; }
L() {
  LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$token SHUNT_CONFIG=$config \
  SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} SHUNT_LOG_FILE=$work/layer.log \
  timeout 120 "$@"
}
# Both probes, in the target (/srv/tools) and here (the work dir is local).
T mkdir -p /srv/tools || fail "cannot prepare the target"
for f in pylock.py pymap.py; do
  T sh -c "cat > /srv/tools/$f" < "$here/$f" || fail "cannot copy $f"
  cp "$here/$f" "$work/$f"
done
# wait_line FILE TEXT: until FILE has the line TEXT (a holder is ready).
wait_line() {
  for _ in $(seq 1 600); do
    grep -qx "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}
# same WHAT GOT WANT
same() { [ "$2" = "$3" ] || fail "$1: local run gave
$2
the target gave
$3"; }
# A local run must not die of a signal (SIGBUS was the bug).
nosig() { [ "$2" -lt 128 ] || fail "$1 died with signal $(($2 - 128))"; }

map_part() {
  T sh -c 'cd /srv/data &&
    printf "needle-head\n" > big70 && truncate -s 70M big70 &&
    printf "needle-tail\n" >> big70 &&
    printf "needle-head\n" > big6g && truncate -s 6G big6g &&
    printf "needle-tail\n" >> big6g && seq 1 20000 > /srv/rw/wmap' ||
    fail "cannot create the big files in the target"

  # rg maps single files (always with --mmap); when mmap fails it reads.
  for a in "-c needle /srv/data/big70" "--mmap -c needle /srv/data/big70" \
           "--mmap -n needle-tail /srv/data/big70" \
           "-m1 -c needle /srv/data/big6g" "--mmap -m1 needle /srv/data/big6g"; do
    want=$(T rg $a 2>&1; echo "rc=$?")
    got=$(L rg $a 2>&1; echo "rc=$?")
    same "rg $a" "$got" "$want"
  done

  # Python: MAP_SHARED of a forwarded file is ENODEV; MAP_PRIVATE is the
  # target's content up to 256 MiB, ENODEV above; a snapshot maps natively.
  want=$(T $py /srv/tools/pymap.py /srv/data/big70 /srv/data/big6g \
           /srv/data/hello.txt 2>&1) || fail "pymap in the target: $want"
  got=$(L $py "$work/pymap.py" /srv/data/big70 /srv/data/big6g \
          /srv/data/hello.txt 2>&1)
  rc=$?
  nosig "pymap (read-only files)" $rc
  want=$(sed -e 's#^shared /srv/data/\(big70\|big6g\) .*#shared /srv/data/\1 mmap error ENODEV#' \
             -e 's|^private /srv/data/big6g .*|private /srv/data/big6g mmap error ENODEV|' <<< "$want")
  same "pymap (read-only files)" "$got" "$want"

  # A write-mode file opened read-write (forwarded).
  want=$(T $py /srv/tools/pymap.py -w /srv/rw/wmap 2>&1) || fail "pymap -w in the target: $want"
  T sh -c 'seq 1 20000 > /srv/rw/wmap' # undo the target's shared write
  got=$(L $py "$work/pymap.py" -w /srv/rw/wmap 2>&1)
  rc=$?
  nosig "pymap -w" $rc
  want=$(sed -e 's|^shared /srv/rw/wmap .*|shared /srv/rw/wmap mmap error ENODEV|' <<< "$want")
  same "pymap -w" "$got" "$want"
  [ "$(T head -n 2 /srv/rw/wmap)" = "$(printf '1\n2')" ] ||
    fail "a private mapping's write reached the file"
}

lock_part() {
  db=/srv/rw/t.db
  out=$(L sqlite3 "$db" "PRAGMA journal_mode=DELETE; CREATE TABLE t(x);
                         INSERT INTO t VALUES('first');" 2>&1)
  rc=$?
  nosig "sqlite3 create" $rc
  [ $rc -eq 0 ] && [ "$out" = delete ] || fail "sqlite3 create: rc $rc: $out"

  # A local writer holds the database: another local process and a process
  # in the target both find it locked.
  L $py "$work/pylock.py" sqlhold "$db" /srv/rw/go1 > "$work/h1" 2>&1 &
  h=$!
  wait_line "$work/h1" held
  got=$(L sqlite3 "$db" "INSERT INTO t VALUES('local-2')" 2>&1; echo "rc=$?")
  same "sqlite3 insert while a local process holds" "$got" \
    "$(printf 'Error: in prepare, database is locked (5)\nrc=5')"
  got=$(T sqlite3 "$db" "INSERT INTO t VALUES('target-2')" 2>&1; echo "rc=$?")
  [ "$got" = "$(printf 'Error: in prepare, database is locked (5)\nrc=5')" ] ||
    fail "the target did not see the local process's lock: $got"
  T touch /srv/rw/go1
  wait $h || fail "the local holder failed: $(cat "$work/h1")"

  # A writer in the target holds it: a local process finds it locked.
  T $py /srv/tools/pylock.py sqlhold "$db" /srv/rw/go2 > "$work/h2" 2>&1 &
  h=$!
  wait_line "$work/h2" held
  got=$(L sqlite3 "$db" "INSERT INTO t VALUES('local-3')" 2>&1; echo "rc=$?")
  same "sqlite3 insert while the target holds" "$got" \
    "$(printf 'Error: in prepare, database is locked (5)\nrc=5')"
  T touch /srv/rw/go2
  wait $h || fail "the target's holder failed: $(cat "$work/h2")"

  # Two local writers and one in the target at once, waiting for each
  # other with SQLite's busy handler: every row arrives, nothing is torn.
  L $py "$work/pylock.py" sqlfill "$db" 60 a > "$work/fa" 2>&1 & fa=$!
  L $py "$work/pylock.py" sqlfill "$db" 60 b > "$work/fb" 2>&1 & fb=$!
  T $py /srv/tools/pylock.py sqlfill "$db" 60 c > "$work/fc" 2>&1 & fc=$!
  wait $fa && wait $fb && wait $fc ||
    fail "a writer failed: $(cat "$work/fa" "$work/fb" "$work/fc")"
  got=$(T sqlite3 "$db" "SELECT count(*) FROM t; PRAGMA integrity_check;" 2>&1)
  [ "$got" = "$(printf '183\nok')" ] || fail "after the writers: $got"
  got=$(L sqlite3 "$db" "SELECT count(*) FROM t WHERE x LIKE 'b-%';" 2>&1)
  [ "$got" = 60 ] || fail "local count: $got"

  # Two connections of one process share its POSIX locks.
  want=$(T $py /srv/tools/pylock.py sqltwo "$db" 2>&1)
  same "sqltwo" "$(L $py "$work/pylock.py" sqltwo "$db" 2>&1)" "$want"
  got=$(T sqlite3 "$db" "SELECT count(*) FROM t WHERE x = 'two'; PRAGMA integrity_check;" 2>&1)
  [ "$got" = "$(printf '2\nok')" ] || fail "after sqltwo: $got"

  # WAL: the shared-memory index cannot be mapped across machines; SQLite
  # reports an error (it died of SIGBUS before).
  got=$(L sqlite3 /srv/rw/w.db "PRAGMA journal_mode=WAL; CREATE TABLE w(x);
                                INSERT INTO w VALUES(1); SELECT count(*) FROM w;" 2>&1)
  rc=$?
  nosig "sqlite3 WAL" $rc
  want=$(T sqlite3 /srv/rw/w-ref.db "PRAGMA journal_mode=WAL; CREATE TABLE w(x);
                                INSERT INTO w VALUES(1); SELECT count(*) FROM w;" 2>&1)
  [ "$got" = "$want" ] || grep -q "disk I/O error" <<< "$got" ||
    fail "sqlite3 WAL: rc $rc: $got"
  got=$(L $py "$work/pylock.py" wal /srv/rw/w2.db 2>&1)
  rc=$?
  nosig "python sqlite3 WAL" $rc
  [ $rc -eq 0 ] && grep -q "disk I/O error\|^1$" <<< "$got" ||
    fail "python sqlite3 WAL: rc $rc: $got"

  # flock(2) and fcntl locks held in the target.
  for kind in flock posix; do
    f=/srv/rw/lk-$kind
    T $py /srv/tools/pylock.py hold "$f" $kind "$f.go" > "$work/h-$kind" 2>&1 &
    h=$!
    wait_line "$work/h-$kind" held
    same "try $kind" "$(L $py "$work/pylock.py" try "$f" $kind 2>&1)" "busy EAGAIN"
    same "alarm $kind" "$(L $py "$work/pylock.py" alarm "$f" $kind 2>&1)" interrupted
    if [ $kind = flock ]; then
      L flock -n "$f" true; rc=$?
      [ $rc -eq 1 ] || fail "flock -n while the target holds: rc $rc"
      L flock -w 0.5 "$f" true; rc=$?
      [ $rc -eq 1 ] || fail "flock -w 0.5 while the target holds: rc $rc"
    else
      same "getlk" "$(L $py "$work/pylock.py" getlk "$f" 2>&1)" F_WRLCK
    fi
    L $py "$work/pylock.py" wait "$f" $kind > "$work/w-$kind" 2>&1 &
    w=$!
    sleep 0.3
    grep -q got "$work/w-$kind" && fail "$kind: the waiter did not wait"
    T touch "$f.go"
    wait $h || fail "holder: $(cat "$work/h-$kind")"
    wait $w || fail "waiter: $(cat "$work/w-$kind")"
    same "wait $kind" "$(cat "$work/w-$kind")" got
    [ $kind = posix ] && same "getlk when free" \
      "$(L $py "$work/pylock.py" getlk "$f" 2>&1)" F_UNLCK
  done

  # F_SETLKW and signals: EINTR from a handler without SA_RESTART, the
  # wait goes on past one with it.
  T $py /srv/tools/pylock.py hold /srv/rw/lk-s posix /srv/rw/lk-s.go > "$work/hs" 2>&1 &
  h=$!
  wait_line "$work/hs" held
  L "$locksig" eintr /srv/rw/lk-s > "$work/se" 2>&1 || fail "lt_locksig eintr: $(cat "$work/se")"
  grep -qx "EINTR after 1 signal(s)" "$work/se" || fail "lt_locksig eintr: $(cat "$work/se")"
  L "$locksig" restart /srv/rw/lk-s > "$work/sr" 2>&1 &
  s=$!
  sleep 2 # past its alarm
  T touch /srv/rw/lk-s.go
  wait $s || fail "lt_locksig restart: $(cat "$work/sr")"
  grep -qx "granted after 1 signal(s)" "$work/sr" || fail "lt_locksig restart: $(cat "$work/sr")"
  wait $h || fail "holder: $(cat "$work/hs")"

  # Held locally: the target sees them.
  L $py "$work/pylock.py" hold /srv/rw/lk-l posix /srv/rw/lk-l.go > "$work/hl" 2>&1 &
  h=$!
  wait_line "$work/hl" held
  same "target try" "$(T $py /srv/tools/pylock.py try /srv/rw/lk-l posix 2>&1)" "busy EAGAIN"
  L flock /srv/rw/lk-f -c "touch $work/fl; sleep 1" &
  fl=$!
  for _ in $(seq 1 100); do [ -e "$work/fl" ] && break; sleep 0.05; done
  got=$(T flock -n /srv/rw/lk-f true 2>&1; echo "rc=$?")
  same "target flock -n while local flock(1) holds" "$got" "rc=1"
  wait $fl
  T touch /srv/rw/lk-l.go
  wait $h || fail "local holder: $(cat "$work/hl")"
  same "target try after" "$(T $py /srv/tools/pylock.py try /srv/rw/lk-l posix 2>&1)" locked

  # POSIX locks belong to the process: two fds of one file share them, and
  # closing either drops them.
  L $py "$work/pylock.py" twofds /srv/rw/lk-2 /srv/rw/lk-2.go1 /srv/rw/lk-2.go2 > "$work/h2fd" 2>&1 &
  h=$!
  wait_line "$work/h2fd" both
  same "target try (two fds)" "$(T $py /srv/tools/pylock.py try /srv/rw/lk-2 posix 2>&1)" "busy EAGAIN"
  T touch /srv/rw/lk-2.go1
  wait_line "$work/h2fd" closed
  same "target try (one fd closed)" "$(T $py /srv/tools/pylock.py try /srv/rw/lk-2 posix 2>&1)" locked
  T touch /srv/rw/lk-2.go2
  wait $h || fail "two fds: $(cat "$work/h2fd")"
}

case $part in
  map) map_part ;;
  lock) lock_part ;;
  *) fail "unknown part $part" ;;
esac
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "lockmap.sh: $part passed against target $name"
