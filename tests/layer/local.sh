#!/usr/bin/env bash
# layer.local: the local path of every hook behaves exactly as libc, and no
# original reaches a detour that calls it again (the endless recursion of a
# local rename: glibc's renameat2 jumps into the patched renameat).
#   local.sh HARNESS LIBSHUNT FIXTURE NAME LT_LOCAL
# 1. lt_local (one case per hooks.def entry, each in its own child) without
#    the layer and under `harness exec`: the outputs are identical, no case
#    crashed.
# 2. Real programs rename local files under `harness exec`: sed -i, python3
#    os.replace, perl rename, node fs.renameSync, git clone of a local
#    repository; each gives the same result as without the layer.
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 lt_local=$5
. "$(dirname "$0")/../lib/session.sh"
st_init ltest-local
fail() { st_fail "$@"; }
[ -f "$lib" ] || fail "no $lib"
st_up "$fixture"

hx() { "$harness" exec --target "$name" -- "$@"; }

mkdir -p "$work/plain" "$work/layer"
"$lt_local" "$work/plain" > "$work/plain.out" 2>&1 || {
  cat "$work/plain.out" >&2; fail "lt_local failed without the layer"; }
hx "$lt_local" "$work/layer" /srv/data/hello.txt > "$work/layer.out" 2>&1
rc=$?
sed -i "s#$work/layer#DIR#g" "$work/layer.out"
sed -i "s#$work/plain#DIR#g" "$work/plain.out"
if ! diff -u "$work/plain.out" "$work/layer.out" > "$work/diff"; then
  cat "$work/diff" >&2
  fail "lt_local: the layer's local paths differ from libc (rc $rc)"
fi
[ $rc -eq 0 ] || { cat "$work/layer.out" >&2; fail "lt_local failed under the layer ($rc)"; }
echo "local: $(grep -c '^[a-z_0-9]*: ' "$work/layer.out") calls identical with and without the layer"

# The same command run in two fresh copies of a directory, without and
# with the layer: same exit status, same tree and contents.
both() {
  local what=$1; shift
  for side in plain layer; do
    rm -rf "$work/$side" && mkdir -p "$work/$side" && (cd "$work/$side" && setup) ||
      fail "$what: setup failed"
    if [ $side = plain ]; then
      (cd "$work/$side" && "$@") > "$work/$side.out" 2>&1; echo "rc $?" >> "$work/$side.out"
    else
      (cd "$work/$side" && hx "$@") > "$work/$side.out" 2>&1; echo "rc $?" >> "$work/$side.out"
    fi
    (cd "$work/$side" && find . -path ./src/.git -prune -o -path ./dst/.git -prune -o -print |
      LC_ALL=C sort | while read -r f; do
        if [ -f "$f" ]; then echo "$f $(sha1sum < "$f")"; else echo "$f"; fi
      done) >> "$work/$side.out"
  done
  diff -u "$work/plain.out" "$work/layer.out" >&2 || fail "$what: differs under the layer"
  grep -q '^rc 0$' "$work/layer.out" || { cat "$work/layer.out" >&2; fail "$what failed"; }
  echo "local: $what identical with and without the layer"
}

setup() { printf 'alpha\nbeta\n' > f; }
both "sed -i" sed -i 's/alpha/ALPHA/' f
both "python3 os.replace" /usr/bin/python3 -c '
import os
open("tmp", "w").write("new\n"); os.replace("tmp", "f"); print(open("f").read(), end="")'
both "perl rename" perl -e 'open(my $h, ">", "t") or die; print $h "p\n"; close $h;
  rename("t", "f") or die "rename: $!"; print "ok\n"'
both "node fs.renameSync" node -e '
const fs = require("fs"); fs.writeFileSync("t", "n\n"); fs.renameSync("t", "f");
fs.mkdirSync("d"); fs.renameSync("d", "e"); console.log(fs.readFileSync("f", "utf8"))'
setup() {
  git init -q src && git -C src -c user.name=t -c user.email=t@t commit -q --allow-empty -m one &&
  printf 'x\n' > src/x && git -C src add x &&
  git -C src -c user.name=t -c user.email=t@t commit -q -m two
}
both "git clone" sh -c 'git clone -q src dst && git -C dst log --format=%s && cat dst/x'
echo "local.sh: passed against target $name"
