#!/usr/bin/env bash
# Static programs no one here wrote (ci/static-programs: Debian's static
# busybox, esbuild, buf, lefthook; cached by ci/setup) and a musl-static C
# program (static_probe.c) run under the supervisor (`harness exec --engine
# supervisor`) against the svtest target and with `runc exec` inside it:
# stdout and exit status must match.
#   static_test.sh HARNESS_BIN FIXTURE_YAML PROGRAM_LIST GROUP [PROBE_BIN]
# GROUP: setup (harness up, the programs staged at the same path locally
# and in the target), cleanup (harness down), or one of the check groups
# below.  Every check of a group runs; the group fails if one does.
# SHUNT_TEST_SHOW_LOG=1 shows harness exec's stderr.
set -uo pipefail
harness=$1 fixture=$2 list=$3 group=$4 probe=${5:-}
name=svtest
ctr=shunt-$name-target
engine=supervisor
static_dir=/opt/shunt/static
stage=/tmp/shunt-svtest-progs
failed=0 passed=0

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "SKIP: $(uname -m): the programs of $list are x86-64"
  exit 77
fi
work=$(mktemp -d /tmp/shunt-static-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/../lib/compare.sh"

# The programs, as staged: busybox, esbuild, buf, lefthook, static_probe.
bb=$stage/busybox es=$stage/esbuild buf=$stage/buf lh=$stage/lefthook
sp=$stage/static_probe
# "${witherr[@]}" CMD...: CMD's stderr on stdout, then its status, so that an
# error's message is compared too.
witherr=("$bb" sh -c '"$@" 2>&1; echo "status $?"' sh)
tree=/srv/sv

# stage_one SRC: the same bytes at $stage/NAME here and in the target,
# where it must be a static ELF (no PT_INTERP).
stage_one() {
  local src=$1 base
  base=$(basename "$src")
  if ! readelf -h "$src" >/dev/null 2>&1; then
    echo "FAIL: $src is not an ELF file"
    return 1
  fi
  if [[ $(readelf -lW "$src" 2>/dev/null) == *'program interpreter'* ]]; then
    echo "FAIL: $src is not static (PT_INTERP)"
    return 1
  fi
  install -m 0755 "$src" "$stage/$base" &&
    runc exec "$ctr" /bin/sh -c "cat > $stage/$base && chmod 755 $stage/$base" < "$src" ||
    { echo "FAIL: staging $src"; return 1; }
}

case "$group" in
setup)
  if [ -e "$tree" ] || [ -e /etc/sv-only.conf ]; then
    echo "FAIL: $tree or /etc/sv-only.conf exists on this host: the checks would prove nothing"
    exit 1
  fi
  progs=()
  while read -r pname _; do
    case $pname in '' | '#'*) continue ;; esac
    if [ ! -x "$static_dir/$pname" ]; then
      echo "FAIL: $static_dir/$pname is missing: run ci/setup"
      exit 1
    fi
    progs+=("$static_dir/$pname")
  done < "$list"
  [ -n "$probe" ] && progs+=("$probe")
  "$harness" down "$name" >/dev/null 2>&1
  "$harness" up "$fixture" || { echo "FAIL: harness up"; exit 1; }
  rm -rf "$stage"
  mkdir -p "$stage"
  runc exec "$ctr" /bin/sh -c "rm -rf $stage && mkdir -p $stage" ||
    { echo "FAIL: $stage in the target"; exit 1; }
  for p in "${progs[@]}"; do
    stage_one "$p" || exit 1
  done
  echo "target $name is up; programs in $stage: $(cd "$stage" && echo *)"
  exit 0
  ;;
cleanup)
  rm -rf "$stage"
  "$harness" down "$name"
  exit 0
  ;;
busybox)
  # Reads first: relatime moves a file's atime on its first read after a
  # change, so `stat` (which prints it) comes after the cats.
  compare "busybox cat" $bb cat $tree/README.txt $tree/data/sub/deep.txt $tree/data/one.txt
  compare "busybox cat of a file only in the target's /etc" $bb cat /etc/sv-only.conf
  compare "busybox cat through a symlink" $bb cat $tree/link-to-readme
  compare "busybox cat of a missing file: message and status" "${witherr[@]}" $bb cat $tree/nonexistent
  compare "busybox cat of a directory: message and status" "${witherr[@]}" $bb cat $tree/data
  compare "busybox ls -la" $bb ls -la $tree
  compare "busybox ls -la of nested and empty dirs" $bb ls -la $tree/data $tree/data/sub $tree/emptydir
  compare "busybox ls -laR" $bb ls -laR $tree/js $tree/proto
  compare "busybox ls -li (inodes)" $bb ls -li $tree/data
  compare "busybox ls -la of 700 entries" $bb ls -la $tree/bigdir
  compare "busybox find of 700 entries (getdents64 order)" $bb find $tree/bigdir
  compare "busybox ls of a missing dir: message and status" "${witherr[@]}" $bb ls $tree/nonexistent
  compare "busybox stat of a file" $bb stat $tree/README.txt
  compare "busybox stat -c of every kind" $bb stat -c '%n %s %F %a %h %u %g %i %Y' \
    $tree $tree/README.txt $tree/link-to-readme $tree/dangling $tree/emptydir \
    $tree/data/one.txt $tree/data/empty.txt
  compare "busybox stat -L" $bb stat -L -c '%n %s %F %a' $tree/link-to-readme
  compare "busybox readlink, readlink -f" $bb sh -c \
    "$bb readlink $tree/link-to-readme; $bb readlink $tree/dangling; $bb readlink -f $tree/link-to-readme"
  compare "busybox find" $bb find $tree/data $tree/js
  compare "busybox sha256sum" $bb sha256sum $tree/README.txt $tree/js/main.js $tree/data/empty.txt
  compare "busybox sha256sum and wc of a 3.4 MB file" $bb sh -c "$bb sha256sum $tree/data/big.txt; $bb wc $tree/data/big.txt"
  compare "busybox tar -c | tar -t" $bb sh -c "$bb tar -cf - $tree/js $tree/proto | $bb tar -tvf -"
  compare "busybox du -a" $bb du -a $tree/data
  compare "busybox grep -r" $bb grep -r needle $tree
  compare "busybox wget of a cluster service" $bb wget -q -O - http://web.cluster:8080/hello.txt
  compare "busybox wget of 35 kB | sha256sum" $bb sh -c "$bb wget -q -O - http://web.cluster:8080/gpl.txt | $bb sha256sum"
  compare "busybox wget by short name and alias" $bb sh -c \
    "$bb wget -q -O - http://web:8080/data/list.txt && $bb wget -q -O - http://web.internal:8080/hello.txt"
  compare "busybox wget of a missing page (404): message and status" "${witherr[@]}" \
    $bb wget -q -O - http://web.cluster:8080/nope
  compare "busybox nslookup (its own resolver, UDP to the cluster DNS)" $bb nslookup dns-only.cluster
  compare "busybox hostname and uname -n" $bb sh -c "$bb hostname; $bb uname -n"
  compare "busybox env: the target's variables" $bb sh -c "$bb env | $bb grep '^SV_' | $bb sort"
  compare "busybox sh: cd into a target dir, pipelines, children" $bb sh -c \
    "cd $tree && $bb ls && $bb pwd && $bb cat README.txt | $bb grep -c line && $bb wc -c data/one.txt && cd data && $bb ls -la ."
  ;;
esbuild)
  compare "esbuild --version" $es --version
  compare "esbuild --bundle of a file only in the target (imports a module and JSON)" \
    $es $tree/js/main.js --bundle
  compare "esbuild --bundle --minify --format=esm" $es $tree/js/main.js --bundle --minify --format=esm
  compare "esbuild of a single file, no bundle" $es $tree/js/lib.js
  compare "esbuild --bundle from a target directory, relative paths" $bb sh -c \
    "cd $tree/js && exec $es main.js --bundle --format=cjs"
  compare "esbuild of a missing entry point: message and status" "${witherr[@]}" $es $tree/js/nope.js --bundle
  ;;
buf)
  compare "buf --version" $buf --version
  compare "buf ls-files of a module only in the target" $buf ls-files $tree/proto
  compare "buf build -o json (every file read)" $buf build $tree/proto -o '-#format=json'
  compare "buf ls-files and buf lint from a target directory (relative paths)" $bb sh -c \
    "cd $tree/proto && $buf ls-files && $buf lint --error-format=text; echo lint status \$?"
  compare "buf ls-files of a missing directory: message and status" "${witherr[@]}" $buf ls-files $tree/nonexistent
  ;;
lefthook)
  compare "lefthook version" $lh version
  compare "lefthook version --full" $lh version --full
  # From busybox sh, in a git repository only the target has: lefthook
  # runs git (a dynamically linked child) to find the repository.
  compare "lefthook dump in a repository only in the target" $bb sh -c "cd $tree/repo && exec $lh dump"
  compare "lefthook validate in a repository only in the target" $bb sh -c "cd $tree/repo && exec $lh validate"
  ;;
probe)
  [ -n "$probe" ] || { echo "FAIL: no static_probe (musl-gcc missing?)"; exit 1; }
  compare "static_probe: files" $sp file $tree/README.txt file /etc/sv-only.conf file $tree/link-to-readme
  compare "static_probe: directories" $sp dir $tree dir $tree/data dir $tree/emptydir
  compare "static_probe: a directory of 700 entries" $sp dir $tree/bigdir
  compare "static_probe: a 3.4 MB file" $sp file $tree/data/big.txt
  compare "static_probe: openat, fstatat, faccessat on a directory fd" $sp \
    at $tree README.txt at $tree/data sub/deep.txt at $tree link-to-readme at /etc sv-only.conf
  compare "static_probe: chdir, getcwd, relative paths" $sp cd $tree pwd file README.txt dir data \
    at . js/lib.js cd data/sub pwd file deep.txt file ../one.txt cd / pwd
  compare "static_probe: HTTP GET of 35 kB" $sp http web.cluster 8080 /gpl.txt
  compare "static_probe: rewinddir of a directory of 700 entries" $sp rewind $tree/bigdir rewind $tree/data
  compare "static_probe: fchdir to a directory fd, getcwd, relative paths" $sp \
    fcd $tree/data pwd file one.txt dir sub fcd $tree/js/.. pwd file README.txt
  compare "static_probe: /proc/self/fd/N of a remote file and directory" $sp \
    fdpath $tree/README.txt fdpath $tree/data fdpath /etc/sv-only.conf
  compare "static_probe: DNS of the service" $sp dns web.cluster dns web dns web.internal
  compare "static_probe: DNS of a record and of the target's own name" $sp dns dns-only.cluster dns svtest-host
  compare "static_probe: HTTP GET of the service" $sp http web.cluster 8080 /hello.txt http web 8080 /data/list.txt
  # a signal that interrupts the wait for the supervisor's answer: the
  # restarted connect gets the first one's answer, not a second connection
  compare "static_probe: connects under a storm of timer signals" $sp sigconnect web.cluster 8080 100
  # ... and a blocking recvfrom the supervisor waits on still ends with the
  # program's signal (EINTR without SA_RESTART)
  compare "static_probe: a blocking recvfrom interrupted by SIGALRM" $sp recvalarm web.cluster 9
  compare "static_probe: uname and environment" $sp uname env SV_MODE env SV_GREETING env SV_NOT_SET
  compare "static_probe: all in one process" $sp file $tree/data/sub/deep.txt dir $tree/js \
    dns web.cluster http web.cluster 8080 /hello.txt uname env SV_MODE
  compare_status "static_probe: a missing file, an unknown name, a closed port" $sp \
    file $tree/nonexistent dns nonexistent.cluster http web.cluster 8081 /
  compare_status "static_probe: errnos: a file listed, *at misses, chdir to a file" $sp \
    dir $tree/README.txt at $tree nonexistent at $tree/README.txt x \
    cd $tree/README.txt cd $tree/nonexistent pwd at $tree dangling
  compare_status "static_probe: read(2) of a directory fd (EISDIR)" $sp file $tree/data
  ;;
write)
  # Write mode (files.read_write): each command starts from a clean
  # directory, so the run in the target and the local one do the same.
  # Writes outside read_write are local (docs/hooking.md, "Policy"): no
  # `mkdir -p`, whose mkdir of /srv/sv would make it on this host.
  config=$work/rw.yaml
  printf '%s\n' 'layer:' '  files:' '    read_write: ["^/srv/sv/rw(/.*)?$"]' > "$config"
  rw=$tree/rw
  compare "busybox: mkdir, write, append, cp, mv, ln -s, rm, then stat and cat" $bb sh -c "
    $bb rm -rf $rw/bb && $bb mkdir $rw/bb $rw/bb/sub $rw/bb/sub/deeper &&
    echo hello > $rw/bb/a.txt && echo more >> $rw/bb/a.txt &&
    $bb cp $tree/README.txt $rw/bb/sub/ && $bb mv $rw/bb/a.txt $rw/bb/b.txt &&
    $bb ln -s b.txt $rw/bb/link && $bb touch $rw/bb/gone && $bb rm $rw/bb/gone &&
    $bb rmdir $rw/bb/sub/deeper && $bb chmod 600 $rw/bb/b.txt &&
    $bb find $rw/bb | $bb sort && $bb stat -c '%n %s %F %a' $rw/bb/b.txt $rw/bb/link $rw/bb/sub/README.txt &&
    $bb cat $rw/bb/link $rw/bb/sub/README.txt"
  # Only the local run writes this one: the target must then hold it.
  local_ $bb sh -c "echo written locally > $rw/bb/local.txt && $bb mv $rw/bb/b.txt $rw/bb/c.txt"
  remote $bb sh -c "$bb cat $rw/bb/local.txt $rw/bb/c.txt; $bb stat -c '%n %s %a' $rw/bb/c.txt; $bb ls $rw/bb"
  printf 'written locally\nhello\nmore\n%s\nc.txt\nlink\nlocal.txt\nsub\n' "$rw/bb/c.txt 11 600" > "$work/want"
  if [ "$lrc" -eq 0 ] && [ "$rrc" -eq 0 ] && cmp -s "$work/want" "$work/r.out"; then
    pass "busybox's writes are in the target"
  else
    diff -au "$work/want" "$work/r.out" > "$work/diff" 2>&1
    fail "busybox's writes in the target: local status $lrc, status $rrc in the target" \
      "$work/diff" "$work/l.err" "$work/r.err"
  fi
  compare "esbuild --outfile into a target directory" $bb sh -c "
    $bb rm -rf $rw/es && $es $tree/js/main.js --bundle --outfile=$rw/es/out.js --log-level=warning &&
    $bb cat $rw/es/out.js"
  local_ $es $tree/js/lib.js --outfile=$rw/es/local.js --log-level=warning
  remote $bb cat $rw/es/local.js
  if [ "$lrc" -eq 0 ] && [ "$rrc" -eq 0 ] && grep -q 'tree-shaken away' "$work/r.out"; then
    pass "esbuild's output file is in the target"
  else
    fail "esbuild's output file in the target: local status $lrc, status $rrc in the target" \
      "$work/r.out" "$work/l.err" "$work/r.err"
  fi
  # Read back in the same process, right after close(2): from a file
  # removed first, so that an earlier run's copy cannot answer.
  compare "static_probe: write, close, then read back" $bb sh -c \
    "$bb rm -f $rw/probe.txt && exec $sp write $rw/probe.txt 'written by static_probe' read $rw/probe.txt"
  config=
  ;;
auto)
  # No --engine: auto sends a static binary to the supervisor.
  engine=
  compare "auto: busybox ls -la" $bb ls -la $tree
  compare "auto: esbuild --bundle" $es $tree/js/main.js --bundle
  compare "auto: buf ls-files" $buf ls-files $tree/proto
  compare "auto: static_probe, all in one process" $sp file $tree/README.txt dir $tree/data \
    dns dns-only.cluster http web.cluster 8080 /hello.txt uname env SV_MODE
  compare "auto: busybox sh (supervisor) running cat and sha256sum (dynamic children)" \
    $bb sh -c "/bin/cat $tree/README.txt; /usr/bin/sha256sum $tree/js/lib.js"
  ;;
follow)
  # No --engine: a static child of a program under the layer (sh -c, a
  # dynamically linked dash) goes on under the supervisor (issue 17:
  # children follow).
  engine=
  compare "follow: sh (layer) running esbuild (static child)" \
    /bin/sh -c "$es $tree/js/main.js --bundle"
  compare "follow: sh (layer) running static_probe and busybox (static children)" \
    /bin/sh -c "cd $tree && $sp file README.txt dir data http web 8080 /hello.txt && $bb ls -la js"
  compare "follow: python3 (layer) running lefthook in a target repository (static child)" \
    /usr/bin/python3 -c "import os, subprocess; os.chdir('$tree/repo'); subprocess.run(['$lh', 'dump'], check=True)"
  ;;
*)
  echo "unknown group $group" >&2
  exit 2
  ;;
esac
echo "$group: $passed passed, $failed failed"
[ $failed -eq 0 ]
