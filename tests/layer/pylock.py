"""Lock probes for tests/layer/lockmap.sh, run inside the target and locally
under the layer.  KIND is posix (fcntl F_SETLK/F_SETLKW through lockf) or
flock.  A holder prints "held" and keeps its lock until GOFILE exists.

  pylock.py hold PATH KIND GOFILE    lock (blocking), "held", wait, "released"
  pylock.py try PATH KIND            "locked" or "busy ERRNO"
  pylock.py wait PATH KIND           blocking lock, then "got"
  pylock.py getlk PATH               F_GETLK of a write lock: the type found
  pylock.py alarm PATH KIND          blocking lock cut by SIGALRM after 1 s
  pylock.py twofds PATH GO1 GO2      POSIX locks through two fds of one
                                     process: both granted; closing one of
                                     them drops the lock (close(2) rule)
  pylock.py sqlhold DB GOFILE        SQLite: BEGIN EXCLUSIVE, "held", wait
  pylock.py sqlfill DB N TAG         SQLite: N inserts, one transaction each
  pylock.py wal DB                   SQLite: WAL mode, a table, a row, count
  pylock.py sqltwo DB                SQLite: two connections of one process,
                                     overlapping readers, then a write
"""
import errno
import fcntl
import os
import signal
import sqlite3
import struct
import sys
import time


def lock(fd, kind, block=True):
    op = fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB)
    if kind == "flock":
        fcntl.flock(fd, op)
    else:
        fcntl.lockf(fd, op)


def wait_file(path):
    for _ in range(6000):
        if os.path.exists(path):
            return
        time.sleep(0.01)
    sys.exit("timed out waiting for " + path)


def say(*a):
    print(*a, flush=True)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd.startswith("sql") or cmd == "wal":
        return sql(cmd, path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if cmd == "hold":
        lock(fd, sys.argv[3])
        say("held")
        wait_file(sys.argv[4])
        os.close(fd)
        say("released")
    elif cmd == "try":
        try:
            lock(fd, sys.argv[3], block=False)
            say("locked")
        except OSError as e:
            say("busy", errno.errorcode[e.errno])
    elif cmd == "wait":
        lock(fd, sys.argv[3])
        say("got")
    elif cmd == "getlk":
        fl = struct.pack("hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        r = fcntl.fcntl(fd, fcntl.F_GETLK, fl)
        t = struct.unpack("hh4xqqi4x", r)[0]
        say({fcntl.F_UNLCK: "F_UNLCK", fcntl.F_WRLCK: "F_WRLCK",
             fcntl.F_RDLCK: "F_RDLCK"}.get(t, t))
    elif cmd == "alarm":
        def ring(sig, frame):
            raise TimeoutError
        signal.signal(signal.SIGALRM, ring)
        signal.alarm(1)
        try:
            lock(fd, sys.argv[3])
            say("got")
        except TimeoutError:
            say("interrupted")
    elif cmd == "twofds":
        lock(fd, "posix", block=False)
        fd2 = os.open(path, os.O_RDWR)
        lock(fd2, "posix", block=False)  # same process: no conflict
        say("both")
        wait_file(sys.argv[3])
        os.close(fd2)
        say("closed")
        wait_file(sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)


def sql(cmd, path):
    c = sqlite3.connect(path, timeout=60, isolation_level=None)
    if cmd == "sqlhold":
        c.execute("BEGIN EXCLUSIVE")
        c.execute("INSERT INTO t VALUES('holder')")
        say("held")
        wait_file(sys.argv[3])
        c.execute("COMMIT")
        say("released")
    elif cmd == "sqlfill":
        for i in range(int(sys.argv[3])):
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO t VALUES(?)", ("%s-%d" % (sys.argv[4], i),))
            c.execute("COMMIT")
        say("filled")
    elif cmd == "sqltwo":
        # SQLite keeps one POSIX lock per file and process for all its
        # connections (they share the inode's lock): A's read lock stays,
        # taken through A's fd, while B commits a write through B's fd.
        b = sqlite3.connect(path, timeout=2, isolation_level=None)
        c.execute("BEGIN")
        c.execute("SELECT count(*) FROM t").fetchone()
        b.execute("BEGIN")
        b.execute("SELECT count(*) FROM t").fetchone()
        c.execute("COMMIT")
        try:
            b.execute("INSERT INTO t VALUES('two')")
            b.execute("COMMIT")
            say("committed")
        except sqlite3.Error as e:
            say("sqlite error:", e)
    elif cmd == "wal":
        try:
            say(c.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            c.execute("CREATE TABLE w(x)")
            c.execute("INSERT INTO w VALUES(1)")
            say(c.execute("SELECT count(*) FROM w").fetchone()[0])
        except sqlite3.Error as e:
            say("sqlite error:", e)


main()
