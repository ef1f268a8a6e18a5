#!/usr/bin/env python3
"""fuzz.interp: shunt-fuzz-interp on the host, in a temporary directory.

Every expected line is computed here from what the kernel says (os.lstat,
os.scandir, os.readlink, Python's own failing calls for the errno names, an
FNV-1a of the file's bytes), not written down: the interpreter and this
script must agree on the kernel's answers.

usage: interp_test.py INTERP [STATIC-INTERP]
"""
import errno
import os
import random
import re
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

INTERP = sys.argv[1]
STATIC = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def enc(b):
    if isinstance(b, str):
        b = os.fsencode(b)
    if not b:
        return "%"
    out = []
    for c in b:
        ch = chr(c)
        if ch.isascii() and (ch.isalnum() or ch in "/._-"):
            out.append(ch)
        else:
            out.append("%%%02X" % c)
    return "".join(out)


def fnv(b):
    h = 0xCBF29CE484222325
    for c in b:
        h ^= c
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


TYPES = {stat.S_IFREG: "reg", stat.S_IFDIR: "dir", stat.S_IFLNK: "lnk",
         stat.S_IFIFO: "fifo", stat.S_IFSOCK: "sock", stat.S_IFCHR: "chr",
         stat.S_IFBLK: "blk"}


def statline(st):
    s = "0 type=%s mode=%04o size=%d nlink=%d uid=%d gid=%d" % (
        TYPES[stat.S_IFMT(st.st_mode)], stat.S_IMODE(st.st_mode),
        st.st_size, st.st_nlink, st.st_uid, st.st_gid)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        s += " rdev=%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    return s


def kernel(fn, *args):
    """STAT line / 0, or -1 ERRNO, from Python's own call."""
    try:
        r = fn(*args)
    except OSError as e:
        return "-1 " + errno.errorcode[e.errno]
    if isinstance(r, os.stat_result):
        return statline(r)
    return "0"


def listing(path, hide=()):
    ents = [(b".", "d"), (b"..", "d")]
    for e in os.scandir(os.fsencode(path)):
        if os.fsdecode(e.name) in hide:
            continue
        m = stat.S_IFMT(e.stat(follow_symlinks=False).st_mode)
        t = {stat.S_IFREG: "r", stat.S_IFDIR: "d", stat.S_IFLNK: "l",
             stat.S_IFIFO: "p", stat.S_IFSOCK: "s", stat.S_IFCHR: "c",
             stat.S_IFBLK: "b"}[m]
        ents.append((e.name, t))
    ents.sort()
    return "%d [%s]" % (len(ents),
                        ",".join("%s:%s" % (enc(n), t) for n, t in ents))


class Server:
    def __init__(self, exe, cwd, env):
        self.p = subprocess.Popen([exe, "--serve"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, cwd=cwd, env=env)
        self.buf = b""

    def readline(self, timeout=20):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise RuntimeError("server: no answer")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("server: EOF, exit %s" % self.p.wait())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("latin-1")

    def send(self, text):
        self.p.stdin.write(text.encode("latin-1"))
        self.p.stdin.flush()

    def command(self, lines, timeout=20):
        """sends lines, returns (output lines, final answer)"""
        self.send("".join(l + "\n" for l in lines))
        out = []
        while True:
            l = self.readline(timeout)
            if l == "ok" or l.startswith("error") or l.startswith("done "):
                return out, l
            out.append(l)

    def seq(self, calls, hide=(), timeout=20):
        head = "seq" + ("" if not hide else " hide " + " ".join(hide))
        return self.command([head] + calls + ["end"], timeout)


def expect_lines(name, got, want):
    """want: list of (call text, result or compiled regex)."""
    check(len(got) == len(want),
          "%s: %d lines, want %d:\n  %s" % (name, len(got), len(want),
                                            "\n  ".join(got)))
    for i, (g, (call, res)) in enumerate(zip(got, want)):
        prefix = "%d %s = " % (i, call)
        if isinstance(res, re.Pattern):
            ok = g.startswith(prefix) and res.fullmatch(g[len(prefix):])
        else:
            ok = g == prefix + res
        check(ok, "%s line %d: got %r, want %r" % (name, i, g, prefix + (
            res.pattern if isinstance(res, re.Pattern) else res)))


# a new fd prints as `fd` (its number differs between the two sides)
FD = re.compile(r"fd")


def main():
    base = tempfile.mkdtemp(prefix="fuzzinterp.")
    try:
        run(base)
    finally:
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                p = os.path.join(root, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("all checks passed")


def run(base):
    T = os.path.join(base, "t")           # the tree's top directory
    TOP = os.path.join(base, "top")       # a top that is a symlink first
    OUT = os.path.join(base, "outside")   # where that symlink points
    HID = os.path.join(base, "hidden")    # SHUNT_FUZZ_HIDDEN_DIR
    os.mkdir(OUT)
    with open(os.path.join(OUT, "keep"), "w") as f:
        f.write("keep\n")
    os.symlink(OUT, TOP)
    env = dict(os.environ, SHUNT_FUZZ_HIDDEN_DIR=HID)
    srv = Server(INTERP, base, env)

    content = b"hello\nworld\n"
    tree = ["tree",
            "D %s 0755" % T,
            "F %s/a.txt 0644 %s" % (T, content.hex()),
            "F %s/empty 0600 -" % T,
            "Z %s/big 0644 100000" % T,
            "Z %s/huge 0644 2000000" % T,
            "D %s/sub 0750" % T,
            "F %s/sub/x%%20y 0640 78" % T,
            "L %s/dangling nowhere" % T,
            "L %s/loop loop" % T,
            "L %s/esc ../../etc/hostname" % T,
            "L %s/tosub sub" % T,
            "P %s/p 0644" % T,
            "H %s/hard %s/a.txt" % (T, T),
            "D %s/ro 0555" % T,
            "F %s/ro/f 0444 -" % T,
            "F %s/deep/er/file 0644 41" % T,   # missing parents 0755
            "D %s 0700" % TOP,
            "end"]
    out, ans = srv.command(tree)
    check(ans == "ok" and not out, "tree: %r %r" % (out, ans))
    # a top that was a symlink to a directory outside: the link went, the
    # outside survived
    check(os.path.isfile(os.path.join(OUT, "keep")),
          "rm of a tree top followed a symlink: %s/keep is gone" % OUT)
    check(os.path.isdir(TOP) and not os.path.islink(TOP),
          "tree: %s is not the tree's directory" % TOP)
    st = os.lstat(T + "/ro")
    check(stat.S_IMODE(st.st_mode) == 0o555, "tree: ro mode %o" % st.st_mode)
    check(stat.S_IMODE(os.lstat(T + "/deep").st_mode) == 0o755,
          "tree: missing parents are not 0755")
    check(open(T + "/big", "rb").read() ==
          bytes(ord("0") + i % 10 for i in range(100000)), "tree: Z content")
    check(open(T + "/a.txt", "rb").read() == content, "tree: F content")
    check(os.readlink(T + "/esc") == "../../etc/hostname", "tree: L text")
    check(os.lstat(T + "/hard").st_ino == os.lstat(T + "/a.txt").st_ino,
          "tree: H is not a hard link")
    check(stat.S_ISFIFO(os.lstat(T + "/p").st_mode), "tree: P")

    # ---- files, fds, stat, readlink, dirs --------------------------------
    A = T + "/a.txt"
    huge = open(T + "/huge", "rb").read()
    calls = [
        ("open %s RDONLY 0" % A, FD),
        ("read f0 5", "5 h=" + fnv(content[:5])),
        ("read f0 100", "%d h=%s" % (len(content) - 5, fnv(content[5:]))),
        ("read f0 100", "0 h=" + fnv(b"")),
        ("pread f0 4 3", "4 h=" + fnv(content[3:7])),
        ("lseek f0 2 SET", "2"),
        ("lseek f0 1 CUR", "3"),
        ("lseek f0 0 END", str(len(content))),
        ("lseek f0 0 DATA", "0"),
        ("lseek f0 -1 SET", kernel(lambda: os.lseek(os.open(A, 0), -1, 0))),
        ("fstat f0", statline(os.fstat(os.open(A, 0)))),
        ("close f0", "0"),
        ("close f0", "-1 EBADF"),
        ("read f0 1", "-1 EBADF"),
        ("read f15 1", "-1 EBADF"),
        ("open %s/huge RDONLY 0" % T, FD),
        ("read f1 99999999999999999999999", "%d h=%s" % (1 << 20, fnv(huge[:1 << 20]))),
        ("open %s/nope RDONLY 0" % T, kernel(os.open, T + "/nope", os.O_RDONLY)),
        ("read f2 1", "-1 EBADF"),
        ("open %s/loop RDONLY 0" % T, kernel(os.open, T + "/loop", os.O_RDONLY)),
        ("open %s/tosub O_RDONLY|O_NOFOLLOW 0" % T,
         kernel(os.open, T + "/tosub", os.O_RDONLY | os.O_NOFOLLOW)),
        ("open %s/a.txt RDWR|CREAT|EXCL 0644" % T,
         kernel(os.open, A, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)),
        ("open %s/w RDWR|CREAT|APPEND 0666" % T, FD),           # f6
        ("write f6 30", "30"),
        ("fcntl f6 GETFL", "RDWR|APPEND"),
        ("fcntl f6 GETFD", "0"),
        ("fcntl f6 SETFD_CLOEXEC", "0"),
        ("fcntl f6 GETFD", "CLOEXEC"),
        ("fcntl f6 DUPFD", FD),                                 # f7
        ("dup f6", FD),                                         # f8
        ("dup2 f6", "fd"),                                        # f9
        ("dup2 f14", "-1 EBADF"),                               # f10
        ("ftruncate f9 40", "0"),
        ("fstat f7", None),                 # filled in below: size 40
        ("stat %s" % A, statline(os.stat(A))),
        ("lstat %s/tosub" % T, statline(os.lstat(T + "/tosub"))),
        ("stat %s/tosub" % T, statline(os.stat(T + "/tosub"))),
        ("stat %s/dangling" % T, kernel(os.stat, T + "/dangling")),
        ("stat %s/loop" % T, kernel(os.stat, T + "/loop")),
        ("stat %s/p" % T, statline(os.stat(T + "/p"))),
        ("stat /dev/null", statline(os.stat("/dev/null"))),
        ("stat %", kernel(os.stat, "")),
        ("fstatat cwd %s/tosub NOFOLLOW" % T, statline(os.lstat(T + "/tosub"))),
        ("fstatat cwd %s/tosub 0" % T, statline(os.stat(T + "/tosub"))),
        ("statx cwd %s/tosub AT_SYMLINK_NOFOLLOW" % T, statline(os.lstat(T + "/tosub"))),
        ("statx cwd %s/hard 0" % T, statline(os.stat(T + "/hard"))),
        ("statx cwd /dev/null 0", statline(os.stat("/dev/null"))),
        ("statx f6 % EMPTY_PATH", None),    # the f6 file: size 40
        ("access %s R|W" % A, "0" if os.access(A, os.R_OK | os.W_OK) else "-1 EACCES"),
        ("access %s/nope F" % T, "-1 ENOENT"),
        ("access %s/ro/f W" % T, "0" if os.access(T + "/ro/f", os.W_OK) else "-1 EACCES"),
        ("faccessat cwd %s X 0" % A, "0" if os.access(A, os.X_OK) else "-1 EACCES"),
        ("readlink %s/esc 100" % T, "18 \"%s\"" % enc("../../etc/hostname")),
        ("readlink %s/esc 4" % T, "4 \"%s\"" % enc("../.")),
        ("readlink %s 100" % A, kernel(os.readlink, A)),
        ("readlinkat cwd %s/tosub 64" % T, "3 \"sub\""),
        ("opendir %s" % T, "dir"),                              # d0
        ("readdir d0", lambda: listing(T)),   # after the sequence (w is new)
        ("readdir d0", "0 []"),
        ("rewinddir d0", "0"),
        ("readdir d0", lambda: listing(T)),
        ("dirfd d0", FD),                                       # f11
        ("closedir d0", "0"),
        ("readdir d0", "-1 EBADF"),
        ("readdir d5", "-1 EBADF"),
        ("opendir %s/a.txt" % T, kernel(os.listdir, A)),        # d1 (empty)
        ("readdir d1", "-1 EBADF"),
        ("open %s/sub RDONLY|DIRECTORY 0" % T, FD),             # f12
        ("fdopendir f12", "dir"),                               # d2
        ("readdir d2", listing(T + "/sub")),
        ("closedir d2", "0"),
    ]
    st6 = None
    want = []
    for c, r in calls:
        want.append([c, r])
    out, ans = srv.seq([c for c, _ in calls])
    check(ans == "done exit 0", "seq files: %s" % ans)
    # the w file as the kernel has it after the sequence
    st6 = os.stat(T + "/w")
    check(st6.st_size == 40 and open(T + "/w", "rb").read() ==
          bytes(ord("a") + i % 26 for i in range(30)) + b"\0" * 10,
          "write/ftruncate: wrong content in %s/w" % T)
    for w in want:
        if w[1] is None:
            w[1] = statline(st6)
        elif callable(w[1]):
            w[1] = w[1]()
    expect_lines("seq files", out, [tuple(w) for w in want])

    # ---- changes, cwd, fork ----------------------------------------------
    S = T + "/sub"
    pre = {
        "rmdir_ne": kernel(os.rmdir, S),
        "unlink_dir": kernel(os.unlink, S),
        "mkdir_exist": kernel(os.mkdir, S),
        "rename_missing": kernel(os.rename, T + "/nope", T + "/x"),
        "chdir_file": kernel(os.chdir, A),
        "link_exists": kernel(os.link, A, T + "/hard"),
        # root may create in a 0555 directory, others get EACCES
        "write_ro": FD if os.access(T + "/ro", os.W_OK) else "-1 EACCES",
    }
    calls = [
        ("mkdir %s/m 0777" % T, "0"),
        ("mkdir %s/sub 0700" % T, pre["mkdir_exist"]),
        ("open %s RDONLY|DIRECTORY 0" % T, FD),                 # f0
        ("mkdirat f0 m2 0750", "0"),
        ("mkdirat f0 m3 0700", "0"),
        ("unlinkat f0 m3 REMOVEDIR", "0"),
        ("rmdir %s" % S, pre["rmdir_ne"]),
        ("unlink %s" % S, pre["unlink_dir"]),
        ("rmdir %s/m" % T, "0"),
        ("rename %s/nope %s/x" % (T, T), pre["rename_missing"]),
        ("rename %s/big %s/big2" % (T, T), "0"),
        ("renameat f0 big2 cwd %s/big3" % T, "0"),
        ("truncate %s/big3 7" % T, "0"),
        ("chmod %s/big3 4711" % T, "0"),
        ("symlink %%20odd%%0Atext %s/sym" % T, "0"),
        ("link %s %s/hard" % (A, T), pre["link_exists"]),
        ("link %s %s/hard2" % (A, T), "0"),
        ("unlink %s/hard" % T, "0"),
        ("unlinkat cwd %s/empty 0" % T, "0"),
        ("open %s/ro/new WRONLY|CREAT 0644" % T, pre["write_ro"]),
        ("chdir %s" % A, pre["chdir_file"]),
        ("chdir %s" % S, "0"),
        ("getcwd 4096", "\"%s\"" % enc(os.path.realpath(S))),
        ("getcwd 3", "-1 ERANGE"),
        ("getcwd 0", "-1 " + ("ERANGE" if False else "EINVAL")),
        ("fchdir f0", "0"),
        ("getcwd 99999", "\"%s\"" % enc(os.path.realpath(T))),
        ("stat a.txt", statline(os.stat(A))),
        ("fork stat a.txt", None),                  # the child's line
        ("fork chdir sub", None),
        ("getcwd 4096", "\"%s\"" % enc(os.path.realpath(T))),
        ("fork fork lstat tosub", None),
        ("fork open a.txt RDONLY 0", None),
        ("read f2 3", "-1 EBADF"),                  # the child's open is not ours
    ]
    out, ans = srv.seq([c for c, _ in calls])
    check(ans == "done exit 0", "seq changes: %s" % ans)
    want = []
    for i, (c, r) in enumerate(calls):
        if c.startswith("fork "):
            inner = c
            prefix = ""
            while inner.startswith("fork "):
                inner = inner[5:]
                prefix += "child "
            if inner.startswith("stat "):
                r = statline(os.stat(A))
            elif inner.startswith("chdir "):
                r = "0"
            elif inner.startswith("lstat "):
                r = statline(os.lstat(T + "/tosub"))
            else:
                r = None
            want.append((prefix, i, inner, r))
        else:
            want.append(("", i, c, r))
    check(len(out) == len(want), "seq changes: %d lines, want %d:\n  %s" %
          (len(out), len(want), "\n  ".join(out)))
    for g, (prefix, i, c, r) in zip(out, want):
        head = "%s%d %s = " % (prefix, i, c)
        ok = g.startswith(head)
        res = g[len(head):]
        if ok and isinstance(r, re.Pattern):
            ok = r.fullmatch(res)
        elif ok and r is None:
            ok = FD.fullmatch(res)
        elif ok:
            ok = res == r
        check(ok, "seq changes: got %r, want %r%s" % (g, head, r if isinstance(r, str) else ""))
    # the effects, as the kernel has them
    check(stat.S_IMODE(os.stat(T + "/m2").st_mode) == 0o750 & ~0o022,
          "mkdirat: m2 mode (umask 022)")
    check(not os.path.exists(T + "/m") and not os.path.exists(T + "/m3"),
          "rmdir/unlinkat REMOVEDIR left a directory")
    b3 = os.stat(T + "/big3")
    check(b3.st_size == 7 and stat.S_IMODE(b3.st_mode) == 0o4711,
          "rename/renameat/truncate/chmod: big3 %o %d" % (b3.st_mode, b3.st_size))
    check(os.readlink(T + "/sym") == " odd\ntext", "symlink: encoded text")
    check(os.stat(T + "/hard2").st_ino == os.stat(A).st_ino and
          not os.path.lexists(T + "/hard"), "link/unlink")
    check(not os.path.exists(T + "/empty"), "unlinkat")

    # the server's own cwd never changed
    out, ans = srv.seq(["getcwd 4096"])
    check(out == ["0 getcwd 4096 = \"%s\"" % enc(os.path.realpath(base))],
          "server cwd changed: %r" % out)

    # ---- network: literals only (nothing asks the host's resolver) -------
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    g4 = sorted({a[4][0] for a in socket.getaddrinfo(
        "127.0.0.1", None, type=socket.SOCK_STREAM)})
    calls = [
        ("getaddrinfo 127.0.0.1", "%d [%s]" % (len(g4), ",".join(g4))),
        ("getaddrinfo %3A%3A1", "1 [::1]"),
        ("connect 127.0.0.1 %d" % port, "0"),
        ("connect 127.0.0.1 %d" % cport, "-1 ECONNREFUSED"),
        ("connect 127.0.0.1 70000", None),
    ]
    out, ans = srv.seq([c for c, _ in calls])
    ls.close()
    check(ans == "done exit 0", "seq net: %s" % ans)
    expect_lines("seq net", out, [(c, r) if r else ("? " + c, "error")
                                  for c, r in calls])

    # ---- hide --------------------------------------------------------------
    out, ans = srv.seq(["stat %s" % A, "opendir %s" % T, "readdir d0"],
                       hide=[A, T + "/nope"])
    check(ans == "done exit 0", "seq hide: %s" % ans)
    hidden_listing = listing(T, hide=["a.txt"])
    check(out == ["0 stat %s = -1 ENOENT" % A, "1 opendir %s = dir" % T,
                  "2 readdir d0 = " + hidden_listing],
          "seq hide: %r" % out)
    check(os.path.isfile(A) and os.listdir(HID) == [],
          "hide: %s not back (hidden dir %r)" % (A, os.listdir(HID)))

    # ---- timeout: SIGKILL of the child and its group ------------------------
    t0 = time.time()
    out, ans = srv.seq(["fork open %s/p RDONLY 0" % T,
                        "open %s/p RDONLY 0" % T], timeout=30)
    took = time.time() - t0
    check(ans == "done signal 9" and out == [],
          "timeout: %r %r" % (out, ans))
    check(4.5 < took < 15, "timeout: took %.1f s" % took)
    # the forked grandchild was killed too: nobody holds the fifo open for
    # reading, so a non-blocking writer gets ENXIO
    time.sleep(0.2)
    try:
        os.close(os.open(T + "/p", os.O_WRONLY | os.O_NONBLOCK))
        fail("timeout: a reader of the fifo survived")
    except OSError as e:
        check(e.errno == errno.ENXIO, "timeout: fifo %s" % e)
    # a crash of the child shows as a signal; the server goes on
    out, ans = srv.seq(["getcwd 10"])
    check(ans == "done exit 0", "after timeout: %r" % ans)

    # ---- malformed lines and random input ------------------------------------
    bad = ["bogus", "open", "open a b c d e", "read f16 1", "read fx 1",
           "read f00 1", "read f1 -5", "lseek f0 1 NOWHERE", "open %zz 0 0",
           "open %0 0 0", "open %00 0 0", "open /x BADFLAG 0", "open /x RDONLY 9",
           "open /x RDONLY 77777", "readdir d8", "readdir x", "fcntl f0 NOPE",
           "mkdirat dir x 0", "fork", "fork fork fork fork fork stat /",
           "access / R|", "access / |R", "access / Q", "connect",
           "getcwd -1", "truncate /x 99999999999999999999"]
    out, ans = srv.seq(["# a comment", ""] + bad + [
        "a " * 70, "x" * 70000])
    check(ans == "done exit 0", "malformed: %s" % ans)
    # "a " * 70: over the token limit; the 70000-byte line: over the line limit
    want_bad = ["%d ? %s = error" % (i, " ".join(b.split())) for i, b in enumerate(bad)]
    check(out[:len(bad)] == want_bad,
          "malformed: %s" % "\n  ".join(
              "%r != %r" % (g, w) for g, w in zip(out, want_bad) if g != w))
    check(len(out) == len(bad) + 2 and all(
        re.match(r"%d \? .* = error$" % (len(bad) + k), out[len(bad) + k])
        for k in range(2)), "malformed: long lines %r" % [l[:80] for l in out[len(bad):]])
    # random lines built from the call names and junk: no crash, one line
    # per call, every line well formed
    rng = random.Random(15)
    words = ["open", "openat", "close", "read", "pread", "write", "lseek",
             "ftruncate", "fstat", "stat", "lstat", "fstatat", "statx",
             "access", "faccessat", "readlink", "readlinkat", "opendir",
             "fdopendir", "readdir", "rewinddir", "closedir", "dirfd",
             "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
             "renameat", "truncate", "chmod", "symlink", "link", "chdir",
             "fchdir", "getcwd", "dup", "dup2", "fcntl", "fork",
             "f0", "f1", "f15", "f16", "d0", "d7", "d9", "cwd", "0", "-1",
             "99999999999999999999", "RDONLY|CREAT", "GETFL", "DUPFD", "END",
             "NOFOLLOW", "%", "%2", "%41", "%ZZ", "0644", "R|W", T, A,
             T + "/sub", T + "/zz", T + "/p%"]
    lines = []
    for _ in range(1500):
        n = rng.randint(1, 6)
        toks = [rng.choice(words) for _ in range(n)]
        if toks[0] == "fork" or toks[0].endswith("/p"):
            toks[0] = "stat"   # no blocking on the fifo, no fork storm
        if "p" in [os.path.basename(t) for t in toks]:
            continue
        lines.append(" ".join(toks))
    for _ in range(200):
        lines.append("".join(chr(rng.randint(32, 126))
                             for _ in range(rng.randint(1, 40))))
    lines = [l for l in lines if not l.lstrip().startswith("#") and l.strip()
             and not re.search(r"(^| )(open|openat)( .*)?/p( |$)", l)]
    out, ans = srv.seq(lines, timeout=60)
    check(ans == "done exit 0", "random: %s" % ans)
    check(len(out) == len(lines), "random: %d lines for %d calls" % (len(out), len(lines)))
    for i, l in enumerate(out[:len(lines)]):
        if not re.match(r"%d \S.* = \S" % i, l):
            fail("random: bad line %r" % l)
            break

    # ---- tree again: the tops go (a 0555 dir with children too) -------------
    os.symlink(OUT, T + "/new-link-out")
    out, ans = srv.command(tree)
    check(ans == "ok", "tree again: %r" % ans)
    check(not os.path.lexists(T + "/big3") and not os.path.lexists(T + "/m2")
          and os.path.isfile(T + "/big") and os.path.isfile(OUT + "/keep"),
          "tree again: the old tree was not removed")
    out, ans = srv.command(["tree", "X %s/bad 0644" % T, "end"])
    check(ans.startswith("error "), "bad tree line: %r" % ans)
    out, ans = srv.command(["nonsense"])
    check(ans == "error unknown command", "unknown command: %r" % ans)
    srv.send("quit\n")
    check(srv.p.wait(timeout=10) == 0, "quit: exit status")

    # ---- one-shot mode ---------------------------------------------------------
    seq = "\n".join([
        "stat %s" % A, "# comment", "open %s RDONLY 0" % A, "read f0 100",
        "opendir %s" % T, "readdir d0", "readlink %s/esc 100" % T,
        "stat %s/big" % T, "nonsense", "fork lstat %s/tosub" % T,
        "fcntl f0 GETFL", "getcwd 4096"]) + "\n"
    r = subprocess.run([INTERP, "--hide", T + "/big"], input=seq.encode(),
                       stdout=subprocess.PIPE, cwd=base, env=env, timeout=30)
    got = r.stdout.decode("latin-1").splitlines()
    want = ["0 stat %s = %s" % (A, statline(os.stat(A))),
            "1 open %s RDONLY 0 = fd" % A,
            "2 read f0 100 = %d h=%s" % (len(content), fnv(content)),
            "3 opendir %s = dir" % T,
            "4 readdir d0 = " + listing(T, hide=["big"]),
            "5 readlink %s/esc 100 = 18 \"%s\"" % (T, enc("../../etc/hostname")),
            "6 stat %s/big = -1 ENOENT" % T,
            "7 ? nonsense = error",
            "child 8 lstat %s/tosub = %s" % (T, statline(os.lstat(T + "/tosub"))),
            "9 fcntl f0 GETFL = RDONLY",
            "10 getcwd 4096 = \"%s\"" % enc(os.path.realpath(base))]
    check(r.returncode == 0, "one-shot: exit %d" % r.returncode)
    check(got == want, "one-shot:\n  got  %s\n  want %s" % (
        "\n       ".join(got), "\n       ".join(want)))
    check(os.path.isfile(T + "/big"), "one-shot: --hide did not put it back")
    # under the layer (here: a preload naming libshunt) hide is ignored
    r = subprocess.run([INTERP, "--hide", T + "/big"],
                       input=("stat %s/big\n" % T).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=base,
                       env=dict(env, LD_PRELOAD=base + "/nonexistent/libshunt.so"),
                       timeout=30)
    check(r.stdout.decode() == "0 stat %s/big = %s\n" % (T, statline(os.stat(T + "/big"))),
          "one-shot under the layer: hide not ignored: %r" % r.stdout)

    # ---- the static (musl) build: the same output ------------------------------
    if STATIC:
        if os.path.exists(STATIC):
            seq2 = seq + "\n".join(["open %s/nope RDONLY 0" % T, "stat /dev/null",
                                    "statx cwd %s/tosub NOFOLLOW" % T,
                                    "access %s/ro/f W" % T, "lseek f0 0 HOLE",
                                    "open %s/loop RDONLY 0" % T]) + "\n"
            outs = []
            for exe in (INTERP, STATIC):
                r = subprocess.run([exe, "--hide", T + "/big"], input=seq2.encode(),
                                   stdout=subprocess.PIPE, cwd=base, env=env,
                                   timeout=30)
                outs.append(r.stdout.decode("latin-1"))
            check(outs[0] == outs[1] and outs[0].count("\n") == 17,
                  "static build differs:\n%s\n---\n%s" % (outs[0], outs[1]))
            s = subprocess.run(["file", "-L", STATIC], stdout=subprocess.PIPE)
            check(b"statically linked" in s.stdout or b"static-pie" in s.stdout,
                  "static build is not static: %r" % s.stdout)
        else:
            fail("%s does not exist" % STATIC)


main()
