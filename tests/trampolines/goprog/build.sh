#!/usr/bin/env bash
# Builds goprog/main.go with every Go toolchain ci/go-toolchains lists, in
# four variants (default, pie, stripped, stripped-pie), and writes a
# manifest of what test_goinfo must read from each: `go version`'s answer
# and the addresses `go tool nm` prints for the unstripped twin (identical
# flags but -s -w).
#   build.sh SRCDIR OUTDIR
# Manifest lines: "ok TOOLCHAIN VARIANT PATH VERSION PIE STRIPPED INTERP
# SYSCALL6 RAWSYSCALL6 RAWVFORK ASMCGOCALL SYSCALL SYSCALL6_ABI0
# RAWSYSCALL" (hex addresses, 0 = absent; ASMCGOCALL is the ABI0 body
# runtime.asmcgocall.abi0; the last three are the ABI0 bodies of Go < 1.19,
# 0 from 1.19) or
# "skip TOOLCHAIN REASON".
set -euo pipefail
src=$1 out=$2
root=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$out"
manifest=$out/manifest
: >"$manifest.new"
# Every toolchain uses its own GOROOT (from its executable's path).
unset GOROOT
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=1
# One Go build cache for every build flavour (Go's cache is content-addressed
# and safe for concurrent use): the second flavour's builds are cache hits.
export GOCACHE=${SHUNT_GOCACHE:-/var/cache/shunt/gocache} GOPATH=$out/gopath GOTELEMETRY=off
mod=$out/mod
mkdir -p "$mod"
cp "$src/main.go" "$mod/main.go"
printf 'module goprog\n\ngo 1.19\n' >"$mod/go.mod"

mapfile -t toolchains < <("$root/ci/go-toolchains")
if ((${#toolchains[@]} == 0)); then
  echo "skip none no Go toolchain found (ci/setup installs them)" >>"$manifest.new"
  echo "build.sh: SKIP: no Go toolchain (ci/setup installs them)" >&2
fi
start=$SECONDS
for tc in "${toolchains[@]}"; do
  name=${tc%% *} gobin=${tc#* }
  t0=$SECONDS
  for variant in default pie stripped stripped-pie; do
    flags=()
    case $variant in *pie) flags+=(-buildmode=pie) ;; esac
    case $variant in stripped*) flags+=("-ldflags=-s -w") ;; esac
    bin=$out/$name/$variant
    mkdir -p "$out/$name"
    (cd "$mod" && "$gobin" build -trimpath "${flags[@]}" -o "$bin" .)
  done
  echo "build.sh: $name ($gobin): $((SECONDS - t0)) s" >&2
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
    # From Go 1.17 assembly functions are NAME.abi0 in the symbol table,
    # and NAME alone is the ABIInternal wrapper the linker made for them.
    cgo=runtime.asmcgocall.abi0
    ((minor < 17)) && cgo=runtime.asmcgocall
    nm=$("$gobin" tool nm "$twin")
    # awk reads all its input: an early exit would kill echo with SIGPIPE,
    # which pipefail and set -e turn into a failure of the assignment below.
    addr() { echo "$nm" | awk -v n="$1" '!f && $3 == n && $2 == "T" {print $1; f=1} END {if (!f) print 0}'; }
    pie=0; case $variant in *pie) pie=1 ;; esac
    stripped=0; case $variant in stripped*) stripped=1 ;; esac
    # Before 1.19 Syscall, Syscall6, RawSyscall and RawSyscall6 are the
    # ABI0 assembly bodies (.abi0 from 1.17, no suffix before).
    abi=.abi0; ((minor < 17)) && abi=
    if ((minor >= 19)); then raw6=syscall.RawSyscall6 old="0 0 0"
    else raw6=syscall.RawSyscall6$abi
      old="$(addr syscall.Syscall$abi) $(addr syscall.Syscall6$abi) $(addr syscall.RawSyscall$abi)"
    fi
    echo "ok $name $variant $bin $gv $pie $stripped 1 $(addr "$sc6") $(addr "$raw6") $(addr syscall.rawVforkSyscall$abi) $(addr "$cgo") $old" >>"$manifest.new"
  done
done
echo "build.sh: ${#toolchains[@]} toolchains in $((SECONDS - start)) s" >&2
mv "$manifest.new" "$manifest"
cat "$manifest"
