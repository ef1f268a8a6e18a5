#!/bin/sh
# Remote files opened by the shell (redirections) and inherited across exec
# by python3 and perl: fstat of the inherited fd gives the target
# file's metadata (every field but atime), not the memfd's the layer holds
# its content in.
python3 -c 'import os; s = os.fstat(0); print("python fstat(0)", oct(s.st_mode), s.st_nlink, s.st_size, s.st_blocks, s.st_ino, s.st_dev, s.st_uid, s.st_gid, s.st_mtime_ns, s.st_ctime_ns)' < /srv/app/config.json
perl -e '@s = stat(STDIN); print "perl stat(STDIN) @s[0..7,9,10,11,12]\n"' < /srv/app/lib/mod.js
exec 3< /srv/app/lib/helper.js
python3 -c 'import os; s = os.fstat(3); print("python fstat(3)", oct(s.st_mode), s.st_nlink, s.st_size, s.st_ino, s.st_mtime_ns); print(os.read(3, 100))'
exec 3<&-
# A pipe is not a remote file: unchanged.
echo piped | python3 -c 'import os, stat; print("pipe", stat.S_ISFIFO(os.fstat(0).st_mode))'
