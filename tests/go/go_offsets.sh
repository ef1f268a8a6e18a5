#!/usr/bin/env bash
# Measures the Go runtime's g and m field offsets the Go trampolines use,
# for each toolchain: ci/go-toolchains' list, or the go binaries named.
#   go_offsets.sh [PATH-TO-go ...]
# Method: `go build -a -work runtime` keeps the work directory, where the
# compiler wrote package runtime's go_asm.h (#define g_m 48, gobuf_sp 0, ...).
# Prints one line per toolchain, a header first:
#   version g.stack.lo g.stack.hi g.m g.sched.sp ... m.curg
# A field the header does not define prints as "?" and the exit status is 1.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if (($# > 0)); then
  gos=("$@")
else
  mapfile -t gos < <("$root/ci/go-toolchains" | awk '{print $2}')
fi
# column  = sum of go_asm.h constants
fields=(
  "g.stack.lo=g_stack+stack_lo"
  "g.stack.hi=g_stack+stack_hi"
  "g.m=g_m"
  "g.sched.sp=g_sched+gobuf_sp"
  "g.sched.pc=g_sched+gobuf_pc"
  "g.sched.g=g_sched+gobuf_g"
  "g.sched.bp=g_sched+gobuf_bp"
  "g.syscallsp=g_syscallsp"
  "g.syscallpc=g_syscallpc"
  "g.atomicstatus=g_atomicstatus"
  "m.g0=m_g0"
  "m.gsignal=m_gsignal"
  "m.curg=m_curg"
)
unset GOROOT
# A GOFLAGS value (here, or in go env -w's file) old toolchains reject
# would stop them: one every Go accepts.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GOTELEMETRY=off CGO_ENABLED=1
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
hdr=version
for f in "${fields[@]}"; do hdr+=" ${f%%=*}"; done
echo "$hdr"
rc=0
# A toolchain's offsets cannot change: the line is kept per toolchain (its
# version, go binary and runtime2.go by hash) so that the second build
# flavour and later runs skip the rebuild of package runtime.
cache=${SHUNT_GO_OFFSETS_CACHE:-/var/cache/shunt/go-offsets}
mkdir -p "$cache" 2>/dev/null || cache=
for go in "${gos[@]}"; do
  ver=$("$go" env GOVERSION 2>/dev/null) || { echo "$go: not a go command" >&2; rc=1; continue; }
  key=
  if [ -n "$cache" ]; then
    goroot=$("$go" env GOROOT)
    key=$ver-$(cat "$(readlink -f "$go")" "$goroot/src/runtime/runtime2.go" 2>/dev/null |
               sha256sum | cut -c1-16)
    if [ -s "$cache/$key" ] && [ "$(head -n1 "$cache/$key")" = "$hdr" ]; then
      sed -n 2p "$cache/$key"
      continue
    fi
  fi
  if ! out=$(cd "$tmp" && GOCACHE=$tmp/cache GOPATH=$tmp/gopath \
    "$go" build -a -work runtime 2>&1); then
    echo "$ver: go build runtime failed: $out" >&2
    rc=1
    continue
  fi
  work=$(echo "$out" | sed -n 's/^WORK=//p')
  h=$(grep -l '^#define g_m ' "$work"/*/go_asm.h 2>/dev/null | head -n1)
  declare -A c=()
  if [ -n "$h" ]; then
    while read -r _ name val; do c[$name]=$val; done < <(grep -E '^#define [A-Za-z0-9_]+ -?[0-9]+$' "$h")
  else
    echo "$ver: no go_asm.h of package runtime in $work" >&2
  fi
  line=$ver
  for f in "${fields[@]}"; do
    expr=${f#*=} sum=0
    IFS=+ read -ra parts <<<"$expr"
    for p in "${parts[@]}"; do
      if [ -z "${c[$p]:-}" ]; then sum='?'; break; fi
      sum=$((sum + c[$p]))
    done
    [ "$sum" = '?' ] && rc=1
    line+=" $sum"
  done
  unset c
  echo "$line"
  if [ -n "$key" ] && [[ $line != *'?'* ]]; then
    printf '%s\n%s\n' "$hdr" "$line" >"$cache/$key.new" && mv "$cache/$key.new" "$cache/$key"
  fi
  rm -rf "$work"
done
exit $rc
