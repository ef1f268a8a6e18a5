#!/usr/bin/env bash
# Programs the layer cannot enter never run unannounced: a static child a
# Go program starts (a static child started through libc's exec, and a Go
# program without cgo, go on under the supervisor instead, silently).  Each
# time the layer prints "shunt: not intercepted: PROGRAM ... WHY" on
# stderr (logging on or off) and appends it to --unhooked-file.  And a Go
# program that CAN be hooked is: Debian's age (cgo, an externally linked
# stripped PIE whose pclntab has no section of its own) reads the target.
# Against the xtest target (exec.setup).
#   unhooked.sh HARNESS_BIN [TARGET]
set -uo pipefail
harness=$1 config=
name=${2:-xtest}
ctr=shunt-$name-target
if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
work=$(mktemp -d /tmp/shunt-unhooked-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0 passed=0
. "$(dirname "$0")/../lib/compare.sh"
tree=/srv/xt
first="line one"
[ -e $tree/README.txt ] && { echo "FAIL: $tree exists on this host"; exit 1; }

# notices FILE: the "not intercepted" lines of FILE.
notices() { grep -c '^shunt: not intercepted: ' "$1"; }

# 1. a static child (Debian's ldconfig is static-pie) started by sh, twice,
#    goes on under the supervisor (docs/supervisor.md): it runs, and no
#    notice is printed; a static busybox (ci/setup caches one) reads the
#    target's file that way.
static=
for f in /sbin/ldconfig /usr/sbin/ldconfig; do
  if [ -x "$f" ] && ! readelf -lW "$f" 2>/dev/null | grep -q INTERP; then static=$f; break; fi
done
bbox=/opt/shunt/static/busybox
if [ -n "$static" ]; then
  local_ sh -c "$static --version >/dev/null; echo first \$?; $static --version >/dev/null; echo second \$?"
  if [ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = "$(printf 'first 0\nsecond 0')" ] &&
     [ "$(notices "$work/l.err")" -eq 0 ]; then
    pass "a static child started by sh: it runs under the supervisor, no notice"
  else
    fail "a static child started by sh: status $lrc" "$work/l.out" "$work/l.err"
  fi
  if [ -x "$bbox" ]; then
    local_ sh -c "$bbox head -1 $tree/README.txt"
    if [ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = "$first" ] &&
       [ "$(notices "$work/l.err")" -eq 0 ]; then
      pass "a static busybox started by sh reads the target's file"
    else
      fail "a static busybox started by sh: status $lrc" "$work/l.out" "$work/l.err"
    fi
  fi
  # posix_spawn (Python's subprocess) and a #! script whose interpreter is static.
  printf '#!%s\n' "$static" > "$work/static-script"
  chmod 755 "$work/static-script"
  local_ /usr/bin/python3 -c "
import subprocess
a = subprocess.run(['$static', '--version'], stdout=subprocess.DEVNULL).returncode
b = subprocess.run(['$work/static-script', '--version'], stdout=subprocess.DEVNULL).returncode
print('ok', a, b)"
  if [ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = "ok 0 0" ] &&
     [ "$(notices "$work/l.err")" -eq 0 ]; then
    pass "posix_spawn of a static program and of a script with a static interpreter: under the supervisor"
  else
    fail "posix_spawn of static programs: status $lrc" "$work/l.out" "$work/l.err"
  fi
else
  fail "no static binary found to test with"
fi
# A dynamic child says nothing.
local_ sh -c "cat $tree/README.txt >/dev/null; ls /tmp >/dev/null"
[ "$lrc" -eq 0 ] && [ ! -s "$work/l.err" ] && pass "dynamic children: no notice" ||
  fail "dynamic children are not silent: status $lrc" "$work/l.err"

# 2. a Go program without cgo, dynamically linked (-buildmode=pie with
#    CGO_ENABLED=0: PT_INTERP, but Go owns the thread register, so the
#    layer cannot run in it): never left unhooked -- harness exec's auto
#    engine sends it to the supervisor, and the layer, loaded into it under
#    --engine layer, execs it again under the supervisor (docs/go.md).  It
#    reads the target's file either way, without a notice.
if command -v go >/dev/null; then
  mkdir -p "$work/gop"
  cat > "$work/gop/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
)

func main() {
	_, err := os.ReadFile(os.Args[1])
	fmt.Println("read:", err == nil)
}
EOF
  printf 'module gop\n\ngo 1.19\n' > "$work/gop/go.mod"
  if (cd "$work/gop" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
        GOTELEMETRY=off go build -buildmode=pie -o nocgo .) 2> "$work/gobuild.err"; then
    for engine in auto layer; do
      local_ "$work/gop/nocgo" $tree/README.txt
      if [ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = "read: true" ] &&
         [ "$(notices "$work/l.err")" -eq 0 ]; then
        pass "a dynamically linked Go program without cgo, --engine $engine: under the supervisor"
      else
        fail "a Go program without cgo, --engine $engine: status $lrc" "$work/l.out" "$work/l.err"
      fi
    done
    engine=
  else
    fail "go build of the non-cgo program" "$work/gobuild.err"
  fi
else
  echo "SKIP: no go on PATH"
fi

# 2b. a Go program with cgo (hooked) starting a static child with os/exec:
#    the vfork child's execve is seen by the trampoline (its path copied
#    for the parent's layer): one notice, every time, however short the
#    child's life; a dynamic child says nothing and reads the target.
if command -v go >/dev/null && [ -n "$static" ]; then
  mkdir -p "$work/gex"
  cat > "$work/gex/main.go" <<'EOF'
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
)

var _ = net.ParseIP // links runtime/cgo

func main() {
	for i := 0; i < 2; i++ {
		out, err := exec.Command(os.Args[1], os.Args[2:]...).Output()
		fmt.Printf("%s", out)
		fmt.Println("err:", err)
	}
}
EOF
  printf 'module gex\n\ngo 1.19\n' > "$work/gex/go.mod"
  if (cd "$work/gex" && CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
        GOTELEMETRY=off go build -o gex .) 2> "$work/gobuild.err"; then
    local_ "$work/gex/gex" "$static" --version
    if [ "$lrc" -eq 0 ] && [ "$(grep -c '^err: <nil>$' "$work/l.out")" -eq 2 ] &&
       [ "$(grep -c "^shunt: not intercepted: $static is a statically linked executable" "$work/l.err")" -eq 2 ]; then
      pass "a cgo Go program's os/exec of a static child, twice: two notices"
    else
      fail "Go os/exec of a static child: status $lrc" "$work/l.out" "$work/l.err"
    fi
    # The same lines in --unhooked-file.
    (cd /tmp && "$harness" exec --target "$name" --unhooked-file "$work/unhooked" -- \
      "$work/gex/gex" "$static" --version) > "$work/l.out" 2> "$work/l.err"
    if [ -s "$work/unhooked" ] && cmp -s "$work/unhooked" <(grep '^shunt: not intercepted: ' "$work/l.err"); then
      pass "--unhooked-file gets the lines stderr got"
    else
      fail "--unhooked-file" "$work/unhooked" "$work/l.err"
    fi
    local_ "$work/gex/gex" /bin/cat $tree/README.txt
    if [ "$lrc" -eq 0 ] && [ "$(grep -c "^$first\$" "$work/l.out")" -eq 2 ] && [ ! -s "$work/l.err" ]; then
      pass "a cgo Go program's os/exec of a dynamic child: no notice, the target's file"
    else
      fail "Go os/exec of a dynamic child: status $lrc" "$work/l.out" "$work/l.err"
    fi
  else
    fail "go build of the cgo program" "$work/gobuild.err"
  fi
fi

# 3. age: cgo, built by Debian with external linking (.data.rel.ro holds the
#    pclntab, no .gopclntab section), stripped: hooked, it encrypts the
#    target's file, which only decrypts to the target's content.
if command -v age >/dev/null && command -v age-keygen >/dev/null; then
  age-keygen -o "$work/key" 2>/dev/null
  recipient=$(age-keygen -y "$work/key")
  remote cat $tree/README.txt
  local_ age -e -r "$recipient" -o "$work/readme.age" $tree/README.txt
  if [ "$lrc" -eq 0 ] && [ ! -s "$work/l.err" ] &&
     age -d -i "$work/key" "$work/readme.age" > "$work/plain" 2>&1 &&
     [ -s "$work/r.out" ] && cmp -s "$work/plain" "$work/r.out"; then
    pass "age (cgo, external-linked stripped PIE) reads the target's file"
  else
    fail "age: status $lrc" "$work/l.err" "$work/plain"
  fi
else
  echo "SKIP: age not installed (ci/setup installs it)"
fi

echo "unhooked: $passed passed, $failed failed"
[ $failed -eq 0 ]
