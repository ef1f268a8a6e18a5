"""mmap probes for tests/layer/lockmap.sh: for each PATH, a shared
(ACCESS_READ: MAP_SHARED) and a private (ACCESS_COPY: MAP_PRIVATE) mapping
of the whole file, reporting its length, first and last 12 bytes and a hash
of the first MiB, or the errno of a failed mmap.  With -w the file is opened
read-write and the shared mapping is ACCESS_WRITE."""
import errno
import hashlib
import mmap
import os
import sys


def probe(path, access, name, flags):
    fd = os.open(path, flags)
    try:
        m = mmap.mmap(fd, 0, access=access)
    except OSError as e:
        print(name, path, "mmap error", errno.errorcode[e.errno])
        os.close(fd)
        return
    h = hashlib.sha256(m[:1 << 20]).hexdigest()[:16]
    print(name, path, "mapped", len(m), bytes(m[:12]), bytes(m[-12:]), h)
    if access == mmap.ACCESS_COPY:
        m[0:4] = b"XXXX"  # private: never reaches the file
    m.close()
    os.close(fd)


args = sys.argv[1:]
flags, shared = os.O_RDONLY, mmap.ACCESS_READ
if args and args[0] == "-w":
    args, flags, shared = args[1:], os.O_RDWR, mmap.ACCESS_WRITE
for p in args:
    probe(p, shared, "shared", flags)
    probe(p, mmap.ACCESS_COPY, "private", flags)
