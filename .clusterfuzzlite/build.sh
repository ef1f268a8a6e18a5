#!/bin/bash -eu
# ClusterFuzzLite's build step: the builder image runs this as $SRC/build.sh
# (copied there by the Dockerfile) from $SRC/shunt, with $CC, $CFLAGS,
# $LIB_FUZZING_ENGINE, $SANITIZER and $OUT set.  The build itself is
# fuzz/oss-fuzz/build.sh, the same for OSS-Fuzz; ctest fuzz.oss_fuzz_build
# runs this file the same way (docs/fuzzing.md).
exec "${SRC:?}/shunt/fuzz/oss-fuzz/build.sh" "$@"
