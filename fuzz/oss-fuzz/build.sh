#!/bin/bash -eu
# Builds shunt's fuzz targets the way OSS-Fuzz and ClusterFuzzLite expect:
# compiler and flags from $CC and $CFLAGS (their sanitizer and coverage
# flags included), the engine from $LIB_FUZZING_ENGINE, everything into
# $OUT: one binary per target of fuzz/targets, with T_seed_corpus.zip,
# T.dict and T.options (max_len, dict) beside it.  docs/fuzzing.md.
# ClusterFuzzLite runs it through .clusterfuzzlite/build.sh; the build
# directory is $WORK/shunt-build ($WORK persists between their builds).
#
# By hand (libFuzzer + ASan, as OSS-Fuzz's default job):
#   CC=clang CFLAGS="-O1 -gline-tables-only -fsanitize=address,fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/oss-fuzz/build.sh
# ctest fuzz.oss_fuzz_build does that with the services' own variables.
# The tree's physical path, and work from there: CMake records the paths it
# is given as seen from a symlinked working directory, and a build directory
# that outlives $SRC ($WORK does) must not name it.
src=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$src"
: "${CC:?set CC}" "${CFLAGS:=}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}" "${OUT:?set OUT}"
work=${WORK:-$(mktemp -d)}/shunt-build
mkdir -p "$OUT"

targets=()
declare -A maxlen=()
while read -r name len _; do
  case $name in ''|'#'*) continue ;; esac
  targets+=("$name")
  maxlen[$name]=$len
done <"$src/fuzz/targets"

# The services' flags carry their own sanitizers: SHUNT_SANITIZE stays off.
cmake -S "$src" -B "$work" -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_BUILD_TYPE=Release -DSHUNT_FUZZ=ON -DSHUNT_WERROR=OFF \
  -DSHUNT_FUZZ_ENGINE="$LIB_FUZZING_ENGINE"
bins=()
for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
cmake --build "$work" --parallel "$(nproc)" --target "${bins[@]}"

for t in "${targets[@]}"; do
  cp "$work/bin/fuzz_$t" "$OUT/$t"
  rm -f "$OUT/${t}_seed_corpus.zip"
  (cd "$src/fuzz/corpus/$t" && zip -q -j "$OUT/${t}_seed_corpus.zip" ./*)
  {
    echo "[libfuzzer]"
    echo "max_len = ${maxlen[$t]}"
    if [ -f "$src/fuzz/$t.dict" ]; then
      cp "$src/fuzz/$t.dict" "$OUT/$t.dict"
      echo "dict = $t.dict"
    fi
  } >"$OUT/$t.options"
done
echo "fuzz/oss-fuzz/build.sh: ${targets[*]} -> $OUT"
