#!/usr/bin/env bash
# harness run end to end with real targets: a real divergence fails, the
# same divergence declared passes as a known one, a declaration that covers
# only part of it fails, normalisers/stderr/files/stdin, the reference
# status, no_leaks and expect.leaks through the recorder, a static child
# (under the supervisor), an invalid file (3), -j 2
# with clashing target names, --only, the TAP/JSON/JUnit reports, and
# --engine (each engine's verdict, what was not checked under one, a
# scenario's program.engines).
# Usage: run_test.sh HARNESS FIXTURES_DIR.  Needs root and runc (77).
set -uo pipefail
harness=$1
fx=$2/run
[ "$(id -u)" = 0 ] && command -v runc >/dev/null || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-runtest.XXXXXX)
trap 'for t in hrun-div hrun-div-1 hrun-div-2 hrun-same hrun-status hrun-leaks hrun-leakf hrun-leakw hrun-build hrun-timeout hrun-cargo hrun-jdiv hrun-jknown hrun-fds hrun-unhooked hrun-englayer hrun-diveng hrun-sigterm; do "$harness" down $t >/dev/null 2>&1; done; rm -rf "$work"' EXIT
fails=0
check() { # NAME WANT_RC GOT_RC OUTFILE PATTERN...
  local name=$1 want=$2 got=$3 out=$4; shift 4
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
  fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$out"; then
      echo "FAIL $name: no line matches: $p"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
    fi
  done
  echo "ok   $name"
}
run() { "$harness" run --no-color "$@" > "$work/out" 2>&1; echo $?; }

rc=$(run "$fx/diverge.yaml")
check "undeclared divergence fails" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +diverge ' '^    stdout differs under the layer$' '^    -mode = remote$' \
  '^    \+cannot read the config$' '^     done$'

rc=$(run "$fx/diverge-known.yaml")
check "declared divergence passes as known" 0 "$rc" "$work/out" \
  '^\[1/1\] PASS\* diverge-known ' 'known divergence in stdout under the layer: layer.files.local keeps' \
  '^    -mode = remote$' '1 passed with known divergences'

rc=$(run "$fx/diverge-narrow.yaml")
check "a divergence covering part of the diff fails" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +diverge-narrow ' '^    stdout differs under the layer$'

rc=$(run "$fx/journal-diverge.yaml")
check "a difference only in the call journal fails" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +journal-diverge ' '^    the call journal differs under the layer$' \
  '^    -1 access\("/etc/app/config\.ini", R_OK\) = 0$' \
  '^    \+1 access\("/etc/app/config\.ini", R_OK\) = -1 ENOENT$'

"$harness" run --json "$fx/journal-diverge.yaml" > "$work/json" 2>/dev/null
check "the journal diff in --json" 1 "$?" "$work/json" '"reason":"the call journal differs under the layer"' \
  '"report":"journal differs under the layer:'

rc=$(run "$fx/journal-known.yaml")
check "a declared journal divergence passes as known; normalisers and exclude apply" 0 \
  "$rc" "$work/out" '^\[1/1\] PASS\* journal-known ' 'known divergence in journal under the layer: layer.files.local' \
  '^     1 open\("/tmp/FILE\.txt", O_WRONLY\|O_CREAT\|O_TRUNC, 0666\) = 3$'

rc=$(run "$fx/fds.yaml")
check "the programs inherit no fd from the harness (both runs)" 0 "$rc" "$work/out" \
  '^\[1/1\] PASS +fds '

rc=$(run "$fx/unhooked.yaml")
check "a static child of a program under the layer goes on under the supervisor" 0 "$rc" \
  "$work/out" '^\[1/1\] PASS +unhooked +layer '

rc=$(run "$fx/same.yaml")
check "normalised stdout, stderr, stdin and a written file" 0 "$rc" "$work/out" \
  '^\[1/1\] PASS +same '

rc=$(run "$fx/bad-status.yaml")
check "a failing reference run fails" 1 "$rc" "$work/out" \
  'the reference run: exit 3, expected exit 0 \(expect.status\)'

rc=$(run "$fx/leaks.yaml")
check "no_leaks: a program without leaks passes" 0 "$rc" "$work/out" '^\[1/1\] PASS +leaks '

rc=$(run "$fx/leaks-found.yaml")
check "no_leaks: a raw openat of a remote path fails the case" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +leaks-found ' 'expect.no_leaks: the recorder reported 1 leak, expected 0' \
  'openat\(AT_FDCWD, "/etc/hrun/secret.txt", O_RDONLY\) = -1 ENOENT'

rc=$(run "$fx/leaks-wrong.yaml")
check "expect.leaks naming another leak fails" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +leaks-wrong ' 'leak 1 does not match expect.leaks\[0\]'

rc=$(run "$fx/invalid.yaml" "$fx/diverge-known.yaml")
check "an invalid file: 3, the others still run" 3 "$rc" "$work/out" \
  'invalid.yaml:6:21: expect.journal.calls\[0\]: expected a call name' \
  '^\[1/1\] PASS\* diverge-known' '1 invalid scenario file'

rc=$(run -j 2 "$fx/diverge.yaml" "$fx/diverge-known.yaml" --junit "$work/j.xml")
check "-j 2 with one target name: both run, in their own targets" 1 "$rc" "$work/out" \
  'FAIL +diverge ' 'PASS\* diverge-known '
python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); \
  assert r.get("tests") == "2" and r.get("failures") == "1", r.attrib' "$work/j.xml" &&
  echo "ok   junit" || { echo "FAIL junit"; fails=$((fails+1)); }

rc=$(run --only 'diverge-k*' "$fx/diverge.yaml" "$fx/diverge-known.yaml")
check "--only" 0 "$rc" "$work/out" '^\[1/1\] PASS\* diverge-known'

"$harness" run --tap "$fx/diverge.yaml" "$fx/leaks.yaml" > "$work/tap" 2>/dev/null
check "TAP" 1 "$?" "$work/tap" '^1\.\.2$' '^not ok 1 - diverge$' '^ok 2 - leaks$'

"$harness" run --json "$fx/diverge-known.yaml" > "$work/json" 2>/dev/null
check "JSON" 0 "$?" "$work/json" '"status":"known-divergence"'
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); c = d["cases"][0]; \
  assert c["name"] == "diverge-known" and d["exit"] == 0 and c["ms"]["local"] >= 0, d' "$work/json" &&
  echo "ok   json parses" || { echo "FAIL json"; fails=$((fails+1)); }

cp "$fx/../run/hello.c" "$work/hello.c" && cp "$fx/build.yaml" "$work/build.yaml"
rc=$(SHUNT_CACHE_DIR=$work/cache run "$work/build.yaml")
check "a cold build" 0 "$rc" "$work/out" "^built build in .*\($work/cache/c-[0-9a-f]{16}\)$" '^\[1/1\] PASS +build '
rc=$(SHUNT_CACHE_DIR=$work/cache run "$work/build.yaml")
check "a warm run builds nothing" 0 "$rc" "$work/out" '^\[1/1\] PASS +build '
grep -q '^built ' "$work/out" && { echo "FAIL warm run rebuilt"; fails=$((fails+1)); }
echo 'int main(void) { return 0; }' > "$work/hello.c"
rc=$(SHUNT_CACHE_DIR=$work/cache run "$work/build.yaml")
check "a changed source is rebuilt" 0 "$rc" "$work/out" '^built build in ' '^\[1/1\] PASS +build '
[ "$(ls "$work/cache" | grep -c '^c-')" = 2 ] && echo "ok   two cache entries" ||
  { echo "FAIL cache entries: $(ls "$work/cache")"; fails=$((fails+1)); }

rc=$(SHUNT_CACHE_DIR=$work/cache run "$fx/build-fails.yaml")
check "a build failure is an error with the compiler's message" 1 "$rc" "$work/out" \
  '^\[1/1\] ERROR build-fails ' 'the program did not build' 'undeclared_thing'
[ -z "$(ls -A "$work/cache" | grep '^\.tmp')" ] && echo "ok   no temporary build left" ||
  { echo "FAIL a temporary build dir was left"; fails=$((fails+1)); }

if command -v cargo >/dev/null; then
  rc=$(SHUNT_CACHE_DIR=$work/cache run "$fx/cargo.yaml")
  check "a cargo project" 0 "$rc" "$work/out" '^built cargo in ' '^\[1/1\] PASS +cargo '
fi

rc=$(run "$fx/go-missing.yaml")
check "a Go version not installed is skipped" 77 "$rc" "$work/out" \
  '^\[1/1\] SKIP +go-missing/go1.5 ' 'Go 1.5 is not installed on this machine'

rc=$(run "$fx/timeout.yaml")
check "a run past its timeout fails" 1 "$rc" "$work/out" \
  'the reference run: timed out, expected exit 0'

# engines: one reference, the local side once per engine, each verdict named
rc=$(run --engine all "$fx/journal-diverge.yaml")
check "--engine all: each engine's verdict, each engine's journal" 1 "$rc" "$work/out" \
  '^\[1/1\] FAIL +journal-diverge +layer:FAIL,supervisor:FAIL ' \
  '^    the call journal differs under the layer$' \
  '^    \+\+\+ local journal \(under the layer\)$' \
  '^    \+\+\+ local journal \(under the supervisor\)$' \
  '^    \+1 access\("/etc/app/config.ini", R_OK\) = -1 ENOENT$' \
  '^journal-diverge +FAIL +layer:FAIL,supervisor:FAIL '

"$harness" run --json --engine all "$fx/journal-diverge.yaml" > "$work/json" 2>/dev/null
python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["cases"][0]; \
  assert [(e["engine"], e["status"]) for e in c["engines"]] == [("layer", "fail"), ("supervisor", "fail")], c; \
  assert not c.get("not_checked"), c' "$work/json" &&
  echo "ok   json engines" || { echo "FAIL json engines"; sed 's/^/  | /' "$work/json"; fails=$((fails+1)); }

rc=$(run --engine supervisor "$fx/leaks.yaml")
check "--engine supervisor: no_leaks through the recorder under the supervisor" 0 \
  "$rc" "$work/out" '^\[1/1\] PASS +leaks +supervisor .* leaks [0-9.]+s' \
  '^leaks +PASS +supervisor '

rc=$(run --engine all "$fx/leaks-found.yaml")
check "--engine all: the recorder repeats each engine's run (the supervisor stops the raw openat)" \
  1 "$rc" "$work/out" '^\[1/1\] FAIL +leaks-found +layer:FAIL,supervisor:PASS ' \
  'expect.no_leaks: the recorder reported 1 leak, expected 0 \(under the layer\)' \
  '^    leaks reported by the recorder under the layer:$'

rc=$(run --engine supervisor "$fx/engines-layer.yaml")
check "program.engines without the supervisor: --engine supervisor skips" 77 "$rc" \
  "$work/out" '^\[1/1\] SKIP +engines-layer +- ' \
  'program.engines lists only layer: not run under the supervisor'

rc=$(run --engine all "$fx/engines-layer.yaml")
check "program.engines without the supervisor: --engine all runs the layer" 0 "$rc" \
  "$work/out" '^\[1/1\] PASS +engines-layer +layer '

rc=$(run --engine all "$fx/diverge-engine.yaml")
check "a divergence declared for one engine: known there, a failure under the other" 1 \
  "$rc" "$work/out" '^\[1/1\] FAIL +diverge-engine +layer:FAIL,supervisor:PASS\* ' \
  '^    stdout differs under the layer$' \
  '^    known divergence in stdout under the supervisor: files.local keeps'

"$harness" run --engine preload "$fx/same.yaml" > "$work/out" 2>&1
check "--engine: a bad name" 2 "$?" "$work/out" \
  'harness run: --engine expects layer, supervisor, auto or all, got "preload"'

"$harness" run --no-color "$fx/sigterm.yaml" > "$work/out" 2>&1 &
pid=$!
sleep 3
t0=$(date +%s)
kill -TERM $pid
wait $pid
check "a SIGTERM to harness run alone stops a cases: group's worker" 143 "$?" "$work/out" \
  '^\[1/2\] ERROR +sigterm/a ' '^    interrupted$' '^\[2/2\] SKIP +sigterm/b ' 'not run: interrupted'
[ $(( $(date +%s) - t0 )) -lt 20 ] && echo "ok   ... within 20 s" ||
  { echo "FAIL the SIGTERM took $(( $(date +%s) - t0 )) s"; fails=$((fails+1)); }

"$harness" run --bogus > "$work/out" 2>&1
check "usage error" 2 "$?" "$work/out" 'unknown option --bogus'

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
