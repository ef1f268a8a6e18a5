#!/usr/bin/env bash
# ctest fuzz.oss_fuzz_build: the ClusterFuzzLite build step as the builder
# image runs it: the tree at $SRC/shunt, .clusterfuzzlite/build.sh copied
# to $SRC/build.sh and run from $SRC/shunt, with the environment of its
# libFuzzer + ASan job (clang here).  Every target of fuzz/targets must
# land in $OUT with its options, dictionary and seed corpus, link neither
# libyaml, capstone, llhttp nor nghttp2 dynamically, and run one input of
# its corpus.
# WORK (the build directory) persists under the ctest build tree, as the
# services keep theirs, so a second run only rebuilds what changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: test_oss_fuzz_build.sh WORKDIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# (build.sh resolves $SRC/shunt to the tree's real path, which the build
# directory's cache names, so $SRC itself may change between runs)
src=$tmp/src
mkdir -p "$src" "$tmp/out"
ln -sfn "$root" "$src/shunt"
cp "$root/.clusterfuzzlite/build.sh" "$src/build.sh"
flags="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
start=$(date +%s)
(cd "$src/shunt" &&
  env SRC="$src" OUT="$tmp/out" WORK="$work" CC=clang CXX=clang++ \
    CFLAGS="$flags" CXXFLAGS="$flags" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
    SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64 \
    bash -eu "$src/build.sh") >"$tmp/build.log" 2>&1 ||
  { tail -40 "$tmp/build.log"; fail "build.sh failed"; }
echo "build.sh took $(( $(date +%s) - start )) s"

n=0
while read -r t len _; do
  case $t in ''|'#'*) continue ;; esac
  n=$((n + 1))
  [ -x "$tmp/out/$t" ] || fail "$t: no \$OUT/$t"
  grep -qx '\[libfuzzer\]' "$tmp/out/$t.options" || fail "$t: no [libfuzzer] in $t.options"
  grep -qx "max_len = $len" "$tmp/out/$t.options" || fail "$t: max_len is not $len"
  if [ -f "$root/fuzz/$t.dict" ]; then
    cmp -s "$root/fuzz/$t.dict" "$tmp/out/$t.dict" || fail "$t: \$OUT/$t.dict differs"
    grep -qx "dict = $t.dict" "$tmp/out/$t.options" || fail "$t: options name no dict"
  fi
  want=$(find "$root/fuzz/corpus/$t" -maxdepth 1 -type f | wc -l)
  got=$(python3 -c 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' \
        "$tmp/out/${t}_seed_corpus.zip") || fail "$t: no seed corpus zip"
  [ "$got" = "$want" ] || fail "$t: seed corpus zip has $got inputs, fuzz/corpus/$t $want"
  if ldd "$tmp/out/$t" | grep -E 'libyaml|libcapstone|libnghttp2|libllhttp'; then
    fail "$t: links a library the runner image lacks"
  fi
  seed=$(find "$root/fuzz/corpus/$t" -maxdepth 1 -type f | sort | awk 'NR == 1')
  (cd "$tmp/out" && timeout 120 "./$t" -runs=1 "$seed") >"$tmp/run.log" 2>&1 ||
    { tail -20 "$tmp/run.log"; fail "$t: does not run its first seed"; }
  grep -q 'Executed .* in [0-9]* ms' "$tmp/run.log" || { cat "$tmp/run.log"; fail "$t: ran nothing"; }
done <"$root/fuzz/targets"
[ "$n" -gt 0 ] || fail "no targets in fuzz/targets"
echo "fuzz.oss_fuzz_build: ok ($n targets in \$OUT)"
