#!/usr/bin/env bash
# Tools installed in the user's home start under the layer: the files of the
# program being run (its executable, the script it was exec'd through, its
# interpreter's prefix, PATH's directories) are local wherever they live,
# while other files of the home still read remote (docs/hooking.md,
# "Default local set").  Against the xtest target (exec.setup).
#   progloc.sh HARNESS_BIN [TARGET]
set -uo pipefail
harness=$1 config=
name=${2:-xtest}
ctr=shunt-$name-target
if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
work=$(mktemp -d /tmp/shunt-progloc-test.XXXXXX)
# A home-like directory that no default rule makes local: not under /tmp
# (local by default) and not the cwd of the runs (/tmp).
fake=$(mktemp -d "${HOME:-/root}/.shunt-progloc-test.XXXXXX")
trap 'rm -rf "$work" "$fake"' EXIT
failed=0 passed=0
. "$(dirname "$0")/../lib/compare.sh"
tree=/srv/xt
first="line one"

# check LABEL WANT_STATUS WANT_STDOUT CMD...: harness exec from /tmp.
check() {
  local label=$1 want_rc=$2 want=$3
  shift 3
  local_ "$@"
  printf '%s\n' "$want" > "$work/want"
  printf '%s\n' "$(cat "$work/l.out")" > "$work/got"
  if [ "$lrc" -eq "$want_rc" ] && cmp -s "$work/want" "$work/got"; then
    pass "$label"
  else
    diff -u "$work/want" "$work/got" > "$work/diff" 2>&1
    fail "$label: status $lrc (want $want_rc)" "$work/diff" "$work/l.err"
  fi
}

# The target has the tree; this host must not (else nothing is proved).
[ -e $tree/README.txt ] && { echo "FAIL: $tree exists on this host"; exit 1; }
echo "a file of the home, only on this host" > "$fake/other.txt"

# 1. python3 through a pyenv shim (a bash script in ~/.pyenv/shims, run by
#    env, exec'ing ~/.pyenv/libexec/pyenv, exec'ing the real interpreter).
py=$(command -v python3)
case "$py" in
"${HOME:-/root}"/*)
  want=$(cd /tmp && python3 -c 'import sys; print(sys.prefix)')
  check "python3 through $py (home-installed)" 0 "$want
$first" python3 -c "import json, sys; print(sys.prefix); print(open('$tree/README.txt').readline(), end='')"
  ;;
*) echo "SKIP: python3 ($py) is not installed in the home" ;;
esac

# 2. a virtualenv in a home-like directory: bin/python is a link, so only
#    the path it was exec'd by (AT_EXECFN) names the venv (pyvenv.cfg).
if (cd /tmp && python3 -m venv --without-pip "$fake/venv") 2>"$work/venv.err"; then
  check "a venv's python (sys.prefix is the venv)" 0 "$fake/venv
$first" "$fake/venv/bin/python3" -c "import sys; print(sys.prefix); print(open('$tree/README.txt').readline(), end='')"
  check "a venv's python: another file of the home is still remote" 1 "ENOENT" \
    "$fake/venv/bin/python3" -c "
import errno, sys
try: open('$fake/other.txt')
except FileNotFoundError: print('ENOENT'); sys.exit(1)
print('read the local file')"
else
  fail "python3 -m venv" "$work/venv.err"
fi

# 3. an nvm-style node: FAKE/.nvm/versions/node/v20/bin/{node,hello}, hello
#    a link to a #!/usr/bin/env node script in lib/node_modules/hello that
#    requires a module and a JSON file next to it.
nv=$fake/.nvm/versions/node/v20
if command -v node >/dev/null; then
  mkdir -p "$nv/bin" "$nv/lib/node_modules/hello"
  ln -s "$(command -v node)" "$nv/bin/node"
  cat > "$nv/lib/node_modules/hello/cli.js" <<'EOF'
#!/usr/bin/env node
const fs = require('fs');
const lib = require('./lib.js');
console.log(lib.greet(require('./package.json').name));
console.log(fs.readFileSync(process.argv[2], 'utf8').split('\n')[0]);
try { fs.readFileSync(process.argv[3]); console.log('read the local file'); }
catch (e) { console.log(e.code); }
EOF
  echo 'exports.greet = (n) => "hello from " + n;' > "$nv/lib/node_modules/hello/lib.js"
  echo '{"name": "hello-pkg", "version": "1.0.0"}' > "$nv/lib/node_modules/hello/package.json"
  chmod 755 "$nv/lib/node_modules/hello/cli.js"
  ln -s ../lib/node_modules/hello/cli.js "$nv/bin/hello"
  PATH=$nv/bin:$PATH check "an nvm-style node script found in PATH" 0 "hello from hello-pkg
$first
ENOENT" hello $tree/README.txt "$fake/other.txt"
  check "an nvm-style node script by its path" 0 "hello from hello-pkg
$first
ENOENT" "$nv/bin/hello" $tree/README.txt "$fake/other.txt"
else
  echo "SKIP: no node"
fi

# 4. cargo through the rustup proxy in ~/.cargo/bin (its toolchains and
#    settings are in ~/.rustup), also found by a shell in PATH.
cargo=$(command -v cargo)
if [ -n "$cargo" ] && [ "$(basename "$(readlink -f "$cargo")")" = rustup ]; then
  want=$(cd /tmp && cargo --version)
  check "cargo --version through the rustup proxy" 0 "$want" cargo --version
  check "sh -c 'cargo --version' (PATH lookup by the shell)" 0 "$want" sh -c 'cargo --version'
else
  echo "SKIP: cargo ($cargo) is not a rustup proxy"
fi

# 5. the go tool: GOROOT is its prefix, its build cache (~/.cache/go-build)
#    a toolchain home.  Only Debian's go 1.19 is dynamically linked (the
#    others are static: refused).  go build also renames a local file,
#    which crashed every program (glibc's renameat2 jumps to renameat).
local_ /usr/bin/python3 -c "
import os
open('$work/ren-a', 'w').write('x')
os.rename('$work/ren-a', '$work/ren-b')
print(open('$work/ren-b').read())"
[ "$lrc" -eq 0 ] && [ "$(cat "$work/l.out")" = x ] && pass "a local os.rename" ||
  fail "a local os.rename: status $lrc" "$work/l.out" "$work/l.err"
gotool=
for g in /usr/lib/go-*/bin/go; do
  [ -x "$g" ] && readelf -lW "$g" 2>/dev/null | grep -q INTERP && { gotool=$g; break; }
done
if [ -n "$gotool" ]; then
  mkdir -p "$work/gomod"
  printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("built") }\n' > "$work/gomod/main.go"
  printf 'module gomod\n\ngo 1.19\n' > "$work/gomod/go.mod"
  check "go build with $gotool (GOROOT, GOCACHE in the home)" 0 "built" \
    sh -c "cd $work/gomod && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local $gotool build -o $work/gomod/out . && $work/gomod/out"
else
  echo "SKIP: no dynamically linked go tool in /usr/lib/go-*"
fi

# 6. an explicit policy rule still wins over the program's own files.
cfg=$work/layer.yaml
printf '%s\n' 'layer:' '  files:' "    not_found: [\"^$fake/venv/pyvenv[.]cfg\$\"]" > "$cfg"
if [ -x "$fake/venv/bin/python3" ]; then
  config=$cfg check "files.not_found beats the program's prefix" 0 "no venv" \
    "$fake/venv/bin/python3" -c "import sys; print('venv' if sys.prefix == '$fake/venv' else 'no venv')"
fi

echo "progloc: $passed passed, $failed failed"
[ $failed -eq 0 ]
