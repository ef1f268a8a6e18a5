#!/usr/bin/env bash
# Real programs no one here wrote, run with `harness exec` against the xtest
# target and with `runc exec` inside it: stdout and exit status must match.
#   exec_test.sh HARNESS_BIN FIXTURE_YAML GROUP
# GROUP: setup (harness up + the rest of the tree), cleanup (harness down),
# or one of the check groups below.  Every check of a group runs; the group
# fails if one does.  SHUNT_TEST_SHOW_LOG=1 shows the layer's stderr.
set -uo pipefail
harness=$1 fixture=$2 group=$3
name=xtest
ctr=shunt-$name-target
bindir=$(dirname "$harness")

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
work=$(mktemp -d /tmp/shunt-exec-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0 passed=0

. "$(dirname "$0")/../lib/compare.sh"

# expect_local LABEL EXPECTED_STATUS EXPECTED_STDOUT CMD...
expect_local() {
  local label=$1 want_rc=$2 want_out=$3
  shift 3
  local_ "$@"
  # Compared like $(...) would: without trailing newlines.
  printf '%s\n' "$want_out" > "$work/want"
  printf '%s\n' "$(cat "$work/l.out")" > "$work/got"
  if [ "$lrc" -eq "$want_rc" ] && cmp -s "$work/want" "$work/got"; then
    pass "$label"
  else
    diff -u "$work/want" "$work/got" > "$work/diff" 2>&1
    fail "$label: status $lrc (want $want_rc)" "$work/diff" "$work/l.err"
  fi
}

tree=/srv/xt
tar_flags="--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner"

case "$group" in
setup)
  if [ -e "$tree" ] || [ -e /etc/xt-only.conf ]; then
    echo "FAIL: $tree or /etc/xt-only.conf exists on this host: the checks would prove nothing"
    exit 1
  fi
  "$harness" down "$name" >/dev/null 2>&1
  "$harness" up "$fixture" || { echo "FAIL: harness up"; exit 1; }
  # What YAML files cannot make: large files, symlinks, an empty directory.
  runc exec "$ctr" /bin/sh -ec "
    seq 1 500000 > $tree/data/big.txt            # 3.4 MB
    seq 1 60000 | head -c 300000 > $tree/data/300k.txt
    seq 1 2000 | head -c 4096 > $tree/data/4k.txt
    head -c 1048577 /dev/zero | tr '\\0' 'z' > $tree/data/1m-plus-1.txt
    ln -s README.txt $tree/link-to-readme
    ln -s ../../config $tree/a/b/up-config
    ln -s /nonexistent/target $tree/dangling
    mkdir $tree/emptydir
    chmod 0700 $tree/a/b
    chmod 0444 $tree/data/one.txt" || { echo "FAIL: making the tree"; exit 1; }
  echo "target $name is up with $tree"
  exit 0
  ;;
cleanup)
  "$harness" down "$name"
  exit 0
  ;;
files)
  compare "cat" cat $tree/README.txt
  compare "cat of several files" cat $tree/README.txt $tree/a/b/c/deep.txt $tree/data/one.txt
  compare "cat of a 3.4 MB file" cat $tree/data/big.txt
  compare "cat of a file in /etc only in the target" cat /etc/xt-only.conf
  compare "cat /etc/hostname (the target's)" cat /etc/hostname
  compare "cat through a symlink" cat $tree/link-to-readme
  compare "cat through a directory symlink" cat $tree/a/b/up-config/app.conf
  compare "head -n" head -n 3 $tree/data/big.txt
  compare "head -c" head -c 100 $tree/data/1m-plus-1.txt
  compare "tail" tail -n 5 $tree/data/big.txt
  compare "wc" wc $tree/README.txt $tree/data/big.txt $tree/data/300k.txt $tree/data/empty.txt
  compare "wc -c of 1 MiB + 1" wc -c $tree/data/1m-plus-1.txt
  compare "sha256sum" sha256sum $tree/data/big.txt $tree/data/300k.txt $tree/data/4k.txt \
    $tree/data/1m-plus-1.txt $tree/data/empty.txt $tree/data/one.txt
  compare "md5sum via stdin redirection" sh -c "md5sum < $tree/data/big.txt"
  compare "cmp of two remote files" sh -c "cmp $tree/README.txt $tree/link-to-readme && echo same"
  compare_status "cat of a missing file" cat $tree/nonexistent
  compare_status "cat of a directory" cat $tree/a
  ;;
ls)
  compare "ls" ls $tree
  compare "ls -la" ls -la --time-style=+ $tree
  compare "ls -la of a nested dir" ls -la --time-style=+ $tree/a/b $tree/data
  compare "ls -laR" ls -laR --time-style=+ $tree
  compare "ls -li (inodes)" ls -li --time-style=+ $tree/data
  compare "ls -d of the empty dir" ls -la --time-style=+ -d $tree/emptydir
  compare "ls of the empty dir" sh -c "ls -A $tree/emptydir; echo end"
  compare "ls -L through a symlink" ls -laL --time-style=+ $tree/link-to-readme
  compare_status "ls of a missing path" ls $tree/nonexistent
  ;;
stat)
  compare "stat -c of every kind" stat -c '%n %s %F %a %h %u %g' $tree $tree/README.txt \
    $tree/link-to-readme $tree/dangling $tree/emptydir $tree/data/big.txt $tree/a/b \
    $tree/data/one.txt $tree/config/app.conf
  compare "stat -L" stat -L -c '%n %s %F %a' $tree/link-to-readme $tree/a/b/up-config
  compare "stat -c %i %b %B (inode, blocks)" stat -c '%n %i %b %B' $tree/data/big.txt $tree/README.txt
  compare "stat -f (file system)" stat -f -c '%T %b %S' $tree
  compare "readlink" readlink $tree/link-to-readme $tree/dangling $tree/a/b/up-config
  compare "readlink -f" readlink -f $tree/a/b/up-config/app.conf
  compare "realpath" realpath $tree/a/b/up-config
  compare "test -f/-d/-L/-x" sh -c "test -f $tree/README.txt && test -d $tree/emptydir && test -L $tree/dangling && test -x $tree/bin/tool.sh && echo ok"
  compare_status "test -e of a missing path" test -e $tree/nonexistent
  ;;
find)
  compare "find" find $tree
  compare "find -type f -size" find $tree -type f -size +1k
  compare "find -printf" find $tree -printf '%p %y %s %m %l\n'
  compare "find -name -exec" find $tree -name '*.txt' -exec wc -c {} +
  compare "find -L" find -L $tree/a
  compare "du -a" du -a $tree
  compare "du -sb" du -sb $tree
  compare "du --apparent-size" du -a --apparent-size $tree/data
  ;;
grep)
  compare "grep -r" grep -r needle $tree
  compare "grep -rn --include" grep -rn --include='*.conf' needle $tree
  compare "grep -rl" grep -rl needle $tree
  compare "grep -c of a big file" grep -c 9999 $tree/data/big.txt
  compare_status "grep with no match" grep -r no-such-needle-anywhere $tree
  ;;
tar)
  compare "tar -c | sha256sum" sh -c "tar -c $tar_flags -f - $tree 2>/dev/null | sha256sum"
  compare "tar -c | tar -t" sh -c "tar -c $tar_flags -f - $tree 2>/dev/null | tar -tv --numeric-owner -f -"
  compare "tar -c of one dir | sha256sum" sh -c "tar -c $tar_flags -f - $tree/data 2>/dev/null | sha256sum"
  ;;
pipeline)
  compare "sh -c pipeline" sh -c "find $tree -type f | sort | xargs wc -c | sort -n | tail -n 4; cat $tree/README.txt | grep needle | wc -l; head -c 1000 $tree/data/big.txt | sha256sum"
  compare "sh -c with redirections and a subshell" sh -c "(read first < $tree/README.txt; echo \"first: \$first\"); while read l; do echo \"> \$l\"; done < $tree/README.txt"
  compare "sh -c with background jobs" sh -c "cat $tree/README.txt > /dev/null & wc -l $tree/data/big.txt & wait"
  compare "xargs -P" sh -c "ls $tree/data | sed 's|^|$tree/data/|' | xargs -P 4 -n 1 sha256sum | sort"
  # A program is exec'd from a local file (the kernel reads it); a script
  # that exists only in the target runs through its interpreter.
  compare "sh running a script that is only in the target" sh $tree/bin/tool.sh
  ;;
env)
  # A variable only in the local environment must not reach the program;
  # the target's do.
  export XT_LOCAL_ONLY=local
  config=
  remote sh -c 'env | grep -E "^(XT_|OTHER_)" | sort'
  local_ sh -c 'env | grep -E "^(XT_|OTHER_)" | sort'
  if [ "$rrc" -eq 0 ] && [ -s "$work/r.out" ] && cmp -s "$work/r.out" "$work/l.out"; then
    pass "env: the target's variables, not the local ones"
  else
    diff -u "$work/r.out" "$work/l.out" > "$work/diff"
    fail "env: target's variables" "$work/diff" "$work/l.err"
  fi
  config=$fixture
  expect_local "env with include XT_* / exclude *_TOKEN" 0 \
    "$(printf 'XT_GREETING=hello from the target\nXT_MODE=remote\n')" \
    sh -c 'env | grep -E "^(XT_|OTHER_)" | sort'
  config=
  expect_local "env keeps the local HOME, PATH and TERM" 0 "$HOME|$PATH|${TERM:-}" \
    sh -c 'printf "%s|%s|%s" "$HOME" "$PATH" "${TERM:-}"'
  expect_local "env: printenv of a target variable" 0 "$(printf 'remote\n')" printenv XT_MODE
  expect_local "env: the session variables are present" 0 "$(printf 'yes\n')" \
    sh -c 'case "$LD_PRELOAD" in *libshunt.so*) [ -n "$SHUNT_SOCKET" ] && echo yes;; esac'
  compare "env in a child that changed a variable" sh -c 'XT_MODE=changed sh -c "echo \$XT_MODE \$XT_GREETING"'
  ;;
children)
  script=$work/local-script.sh
  printf '#!/bin/sh\necho "mode=$XT_MODE"\ncat %s/README.txt\n' "$tree" > "$script"
  chmod 755 "$script"
  script2=$work/local-script-env.sh
  printf '#!/usr/bin/env bash\necho "bash: $XT_MODE"\nwc -c < %s/data/big.txt\n' "$tree" > "$script2"
  chmod 755 "$script2"
  remote sh -c "echo mode=\$XT_MODE; cat $tree/README.txt"
  cp "$work/r.out" "$work/want-script"
  expect_local "a local #!/bin/sh script" 0 "$(cat "$work/want-script")" "$script"
  expect_local "a local script with LD_PRELOAD removed (env -u)" 0 "$(cat "$work/want-script")" env -u LD_PRELOAD -u SHUNT_SOCKET "$script"
  remote sh -c "echo bash: \$XT_MODE; wc -c < $tree/data/big.txt"
  expect_local "a local #!/usr/bin/env bash script" 0 "$(cat "$work/r.out")" "$script2"
  compare "env -u LD_PRELOAD cat" env -u LD_PRELOAD cat $tree/README.txt
  compare "env -i cat (empty environment)" env -i /bin/cat $tree/README.txt
  compare "sh that unsets the session, then execs" sh -c "unset LD_PRELOAD SHUNT_SOCKET SHUNT_TOKEN SHUNT_CONFIG; cat $tree/README.txt; echo \$XT_MODE; exec wc -l $tree/data/big.txt"
  compare "three levels of sh" sh -c "sh -c 'sh -c \"wc -c $tree/data/big.txt; echo \\\$XT_MODE\"'"
  compare "python3 subprocess with env={} (vfork/posix_spawn)" /usr/bin/python3 -c \
    "import subprocess; subprocess.run(['cat', '$tree/README.txt'], env={}, check=True)"
  compare "python3 os.posix_spawnp and os.posix_spawn with env={}" /usr/bin/python3 -c "
import os, sys
for f, p in ((os.posix_spawnp, 'cat'), (os.posix_spawn, '/bin/cat')):
    sys.stdout.flush()
    pid = f(p, ['cat', '$tree/README.txt'], {})
    print(os.waitpid(pid, 0)[1])"
  compare "python3 os.execve of an fd with env={} (fexecve)" /usr/bin/python3 -c "
import os
fd = os.open('/bin/cat', os.O_RDONLY)
os.execve(fd, ['cat', '$tree/README.txt'], {})"
  compare "execveat through ctypes with an empty environment" /usr/bin/python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
argv = (ctypes.c_char_p * 3)(b'cat', b'$tree/README.txt', None)
envp = (ctypes.c_char_p * 1)(None)
libc.execveat(-100, b'/bin/cat', argv, envp, 0)
raise SystemExit('execveat: ' + os.strerror(ctypes.get_errno()))"
  compare "python3 os.system after os.environ.clear() (system)" /usr/bin/python3 -c \
    "import os, sys; os.environ.clear(); sys.stdout.flush(); sys.exit(os.system('cat $tree/README.txt') >> 8)"
  compare "python3 os.fork + read in the child" /usr/bin/python3 -c "
import os, sys
pid = os.fork()
if pid == 0:
    sys.stdout.write(open('$tree/a/b/c/deep.txt').read()); sys.stdout.flush(); os._exit(0)
os.waitpid(pid, 0)
print(open('$tree/README.txt').read(), end='')"
  compare "perl system and backticks" perl -e "system('cat', '$tree/data/one.txt'); print qx(head -n 1 $tree/README.txt);"
  compare "awk | getline (popen)" awk "BEGIN { while ((\"cat $tree/README.txt\" | getline l) > 0) print \"got: \" l }"
  # fds across exec: an inherited remote fd reads on; O_CLOEXEC ones close.
  compare "an inherited remote fd across exec" sh -c "exec 3< $tree/README.txt; read first <&3; echo \"\$first\"; cat <&3"
  compare "O_CLOEXEC remote fd closed across exec, others kept" /usr/bin/python3 -c "
import os
a = os.open('$tree/README.txt', os.O_RDONLY | os.O_CLOEXEC)
b = os.open('$tree/data/one.txt', os.O_RDONLY); os.set_inheritable(b, True)
os.execvp('sh', ['sh', '-c', 'test -e /proc/self/fd/%d && echo a open || echo a closed; cat <&%d; echo' % (a, b)])"
  ;;
config)
  # The layer: section reaches the layer: policy lists and logging.
  config=$work/layer.yaml
  printf '%s\n' 'layer:' '  files:' \
    '    not_found: ["^/srv/xt/data/one[.]txt$"]' \
    '    local: ["^/srv/xt/a(/|$)"]' > "$config"
  local_ cat $tree/data/one.txt
  if [ "$lrc" -eq 1 ] && grep -q "No such file" "$work/l.err"; then
    pass "files.not_found hides a remote file"
  else
    fail "files.not_found: status $lrc" "$work/l.out" "$work/l.err"
  fi
  local_ ls $tree/a
  if [ "$lrc" -eq 2 ] && grep -q "No such file" "$work/l.err"; then
    pass "files.local keeps a path local (absent here)"
  else
    fail "files.local: status $lrc" "$work/l.out" "$work/l.err"
  fi
  compare "other paths stay remote" cat $tree/README.txt
  config=
  (cd /tmp && "$harness" exec --target "$name" --log debug --log-file "$work/layer.log" \
    -- cat $tree/README.txt) > "$work/l.out" 2> "$work/l.err"
  if [ $? -eq 0 ] && [ -s "$work/layer.log" ] && [ ! -s "$work/l.err" ]; then
    pass "--log debug --log-file: the layer logs to the file, not stderr"
  else
    fail "--log-file" "$work/l.err" "$work/layer.log"
  fi
  (cd /tmp && "$harness" exec --target "$name" -- cat $tree/README.txt) > "$work/l.out" 2> "$work/l.err"
  if [ $? -eq 0 ] && [ ! -s "$work/l.err" ]; then
    pass "the layer is silent by default"
  else
    fail "the layer is not silent by default" "$work/l.err"
  fi
  ;;
status)
  expect_local "exit status 7" 7 "" sh -c 'exit 7'
  expect_local "killed by SIGKILL -> 137" 137 "" sh -c 'kill -KILL $$'
  expect_local "false -> 1" 1 "" false
  compare_status "test -d of a remote dir" test -d $tree/emptydir
  compare_status "grep -q with no match" grep -q no-such-needle $tree/README.txt
  local_ no-such-command-xt
  if [ "$lrc" -eq 127 ] && grep -q "command not found" "$work/l.err"; then
    pass "a missing command -> 127"
  else
    fail "a missing command: status $lrc" "$work/l.err"
  fi
  # Static binaries: shunt-init (static unless a sanitizer build) and, on
  # Debian, ldconfig (static-pie: PT_DYNAMIC but no PT_INTERP).
  statics=()
  for f in "$bindir/shunt-init" /sbin/ldconfig /usr/sbin/ldconfig; do
    if [ -x "$f" ] && readelf -h "$f" >/dev/null 2>&1 &&
       ! readelf -lW "$f" 2>/dev/null | grep -q INTERP; then
      statics+=("$f")
    fi
  done
  [ ${#statics[@]} -gt 0 ] || fail "no static binary found to test with"
  # --engine layer refuses them, with the reason; the default (auto) runs
  # them under the supervisor (docs/supervisor.md).
  for f in "${statics[@]}"; do
    engine=layer local_ "$f"
    if [ "$lrc" -eq 126 ] && grep -q "statically linked" "$work/l.err" &&
       grep -q "LD_PRELOAD" "$work/l.err" && grep -q "engine supervisor" "$work/l.err"; then
      pass "a static binary ($f) is refused by --engine layer, with the reason"
    else
      fail "a static binary ($f), --engine layer: status $lrc" "$work/l.err"
    fi
  done
  printf '#!%s\n' "${statics[0]:-/nonexistent}" > "$work/static-script"
  chmod 755 "$work/static-script"
  engine=layer local_ "$work/static-script"
  if [ "$lrc" -eq 126 ] && grep -q "interpreter" "$work/l.err"; then
    pass "a script with a static interpreter is refused by --engine layer"
  else
    fail "a script with a static interpreter, --engine layer: status $lrc" "$work/l.err"
  fi
  for f in /sbin/ldconfig /usr/sbin/ldconfig; do
    [ -x "$f" ] && ! readelf -lW "$f" 2>/dev/null | grep -q INTERP || continue
    local_ "$f" --version
    if [ "$lrc" -eq 0 ] && grep -q "ldconfig" "$work/l.out"; then
      pass "a static binary ($f) runs under the supervisor (--engine auto)"
    else
      fail "a static binary ($f), --engine auto: status $lrc" "$work/l.out" "$work/l.err"
    fi
    break
  done
  "$harness" exec --target xtest-not-up -- true > "$work/o" 2> "$work/e"
  rc=$?
  if [ $rc -eq 1 ] && grep -q "not up" "$work/e" && grep -q "harness up" "$work/e"; then
    pass "a target that is not up: a clear error"
  else
    fail "a target that is not up: status $rc" "$work/e"
  fi
  # SIGTERM to harness exec reaches the command; the session goes away.
  init_pid=$("$harness" status --json "$name" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["targets"][0]["init_pid"])')
  (cd /tmp && exec "$harness" exec --target "$name" -- sleep 30) > /dev/null 2> "$work/e" &
  hpid=$!
  sleep 1
  kill -TERM $hpid
  wait $hpid
  rc=$?
  if [ $rc -eq 143 ]; then
    pass "SIGTERM is forwarded; the status is 128+15"
  else
    fail "SIGTERM forwarding: status $rc" "$work/e"
  fi
  sleep 0.2
  if pgrep -f "shunt-agent --target-pid $init_pid" > /dev/null; then
    fail "an agent is left behind after harness exec"
  else
    pass "no agent left behind"
  fi
  ;;
*)
  echo "unknown group $group" >&2
  exit 2
  ;;
esac
echo "$group: $passed passed, $failed failed"
[ $failed -eq 0 ]
