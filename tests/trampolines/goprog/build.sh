#!/usr/bin/env bash
# Builds goprog/main.go with every Go toolchain found, in four variants
# (default, pie, stripped, stripped-pie), and writes a manifest of what
# test_goinfo must read from each: `go version`'s answer and the addresses
# `go tool nm` prints for the unstripped twin (identical flags but -s -w).
#   build.sh SRCDIR OUTDIR
# Manifest lines: "ok TOOLCHAIN VARIANT PATH VERSION PIE STRIPPED INTERP
# SYSCALL6 RAWSYSCALL6 RAWVFORK" (hex addresses, 0 = absent) or
# "skip TOOLCHAIN REASON".
set -euo pipefail
src=$1 out=$2
mkdir -p "$out"
manifest=$out/manifest
: >"$manifest.new"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=1
export GOCACHE=$out/gocache GOPATH=$out/gopath GOTELEMETRY=off
mod=$out/mod
mkdir -p "$mod"
cp "$src/main.go" "$mod/main.go"
printf 'module goprog\n\ngo 1.19\n' >"$mod/go.mod"

toolchains=("path:$(command -v go || true)" "go1.19:/usr/lib/go-1.19/bin/go")
for tc in "${toolchains[@]}"; do
  name=${tc%%:*} gobin=${tc#*:}
  if [ -z "$gobin" ] || [ ! -x "$gobin" ]; then
    echo "skip $name no Go toolchain at ${gobin:-PATH} (ci/setup installs golang-1.19-go)" >>"$manifest.new"
    echo "build.sh: SKIP $name: no Go toolchain at ${gobin:-PATH}" >&2
    continue
  fi
  ver=$("$gobin" env GOVERSION)
  [ "$name" = path ] && name=$ver
  for variant in default pie stripped stripped-pie; do
    flags=()
    case $variant in *pie) flags+=(-buildmode=pie) ;; esac
    case $variant in stripped*) flags+=("-ldflags=-s -w") ;; esac
    bin=$out/$name/$variant
    mkdir -p "$out/$name"
    (cd "$mod" && "$gobin" build -trimpath "${flags[@]}" -o "$bin" .)
  done
  for variant in default pie stripped stripped-pie; do
    bin=$out/$name/$variant
    twin=$bin
    case $variant in stripped) twin=$out/$name/default ;; stripped-pie) twin=$out/$name/pie ;; esac
    gv=$("$gobin" version "$bin" | awk '{print $2}')
    minor=$(echo "$gv" | sed -E 's/^go1\.([0-9]+).*/\1/')
    if ((minor >= 26)); then sc6='internal/runtime/syscall/linux.Syscall6'
    elif ((minor >= 23)); then sc6='internal/runtime/syscall.Syscall6'
    elif ((minor >= 19)); then sc6='runtime/internal/syscall.Syscall6'
    else sc6=none; fi
    nm=$("$gobin" tool nm "$twin")
    addr() { echo "$nm" | awk -v n="$1" '$3 == n && $2 == "T" {print $1; f=1; exit} END {if (!f) print 0}'; }
    pie=0; case $variant in *pie) pie=1 ;; esac
    stripped=0; case $variant in stripped*) stripped=1 ;; esac
    echo "ok $name $variant $bin $gv $pie $stripped 1 $(addr "$sc6") $(addr syscall.RawSyscall6) $(addr syscall.rawVforkSyscall.abi0)" >>"$manifest.new"
  done
done
mv "$manifest.new" "$manifest"
cat "$manifest"
