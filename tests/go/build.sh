#!/usr/bin/env bash
# Builds tests/go/prog (gotest) and tests/go/tramp (trampoline unit test
# program) with every Go toolchain ci/go-toolchains lists, cgo on (dynamic),
# in four variants: default, pie, stripped (-s -w), stripped-pie; plus per
# toolchain a static gotest (CGO_ENABLED=0), which harness exec must
# refuse, and a PIE gotest without cgo, which the layer must leave alone.  Offline: GOPROXY=off GOTOOLCHAIN=local, caches in OUTDIR.
#   build.sh SRCDIR OUTDIR TOOLCHAINS_SCRIPT
# Manifest OUTDIR/manifest, one line per build:
#   "gotest VERSION VARIANT PATH", "tramp VERSION VARIANT PATH",
#   "static VERSION PATH", "nocgo VERSION PATH".
set -euo pipefail
src=$1 out=$2 list=$3
mkdir -p "$out"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
# One build cache for every build flavour (content-addressed, safe for
# concurrent use): the second flavour and later runs mostly hit it.
export GOCACHE=${SHUNT_GOCACHE:-/var/cache/shunt/gocache} GOPATH=$out/gopath
: >"$out/manifest.new"
n=0
while read -r ver gobin; do
  [ -x "$gobin" ] || { echo "build.sh: $ver: $gobin is not executable" >&2; exit 1; }
  for prog in prog tramp; do
    mod=$out/mod-$prog
    mkdir -p "$mod"
    cp "$src/$prog"/*.go "$mod/"
    printf 'module %s\n\ngo 1.19\n' "$prog" >"$mod/go.mod"
    kind=gotest; [ $prog = tramp ] && kind=tramp
    for variant in default pie stripped stripped-pie; do
      flags=()
      case $variant in *pie) flags+=(-buildmode=pie) ;; esac
      case $variant in stripped*) flags+=("-ldflags=-s -w") ;; esac
      bin=$out/$ver/$kind-$variant
      mkdir -p "$out/$ver"
      (cd "$mod" && CGO_ENABLED=1 nice "$gobin" build -trimpath "${flags[@]}" -o "$bin" .)
      echo "$kind $ver $variant $bin" >>"$out/manifest.new"
    done
  done
  bin=$out/$ver/gotest-static
  (cd "$out/mod-prog" && CGO_ENABLED=0 nice "$gobin" build -trimpath -o "$bin" .)
  echo "static $ver $bin" >>"$out/manifest.new"
  # Dynamically linked (a PIE needs ld.so) but without runtime/cgo: the
  # layer must leave it unhooked with one warning.
  bin=$out/$ver/gotest-nocgo-pie
  (cd "$out/mod-prog" && CGO_ENABLED=0 nice "$gobin" build -trimpath -buildmode=pie -o "$bin" .)
  echo "nocgo $ver $bin" >>"$out/manifest.new"
  n=$((n + 1))
done < <("$list")
[ "$n" -gt 0 ] || { echo "build.sh: no Go toolchain listed by $list" >&2; exit 1; }
mv "$out/manifest.new" "$out/manifest"
cat "$out/manifest"
