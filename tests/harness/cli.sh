#!/usr/bin/env bash
# harness CLI: help, version, usage errors (exit 2) and `check` (no root needed).
#   cli.sh HARNESS_BIN FIXTURES_DIR
set -uo pipefail
harness=$1 fixtures=$2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
failures=0

# expect CODE PATTERN-IN-OUTPUT ARGS...: runs harness ARGS, checks the exit
# code and that stdout+stderr match the extended regex.
expect() {
  local code=$1 pattern=$2; shift 2
  "$harness" "$@" >"$out" 2>"$err"
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! cat "$out" "$err" | grep -Eq -- "$pattern"; then
    echo "FAIL: harness $* -> exit $rc (want $code), output:" >&2
    sed 's/^/  | /' "$out" "$err" >&2
    echo "  wanted /$pattern/" >&2
    failures=$((failures + 1))
  fi
}

expect 0 '^usage: harness'             --help
expect 0 '^harness \(shunt\) [0-9]'     --version
expect 2 'missing command'
expect 2 'unknown command "bogus"'     bogus
expect 2 'unknown option --bogus'      --bogus status
expect 2 'unknown log level "loud"'    --log-level loud status
for cmd in up down status check run fuzz; do
  expect 0 "^usage: harness $cmd"      "$cmd" --help
  expect 2 "harness $cmd: unknown option --nope" "$cmd" --nope
done
expect 2 'expected exactly one scenario file' up
expect 2 'give target names or --all'  down
expect 2 'give target names or --all'  down --all x
expect 2 '"Bad_Name" is not a target name' down Bad_Name
expect 2 '--timeout expects 1-3600 seconds' up --timeout 0 x.yaml
expect 2 'expected at least one scenario file' check
expect 0 'example.yaml: ok \(target example, 2 services, program: python\)' \
  check "$fixtures/../../../scenarios/example.yaml"
expect 0 'hitest.yaml: ok \(target hitest, 2 services\)' check "$fixtures/hitest.yaml"
expect 1 'bad-port.yaml:6:37: target.services\[1\].port: expected an integer 1-65535, got "abc"' \
  check "$fixtures/bad-port.yaml"
expect 1 'nope.yaml: cannot open: No such file or directory' check "$fixtures/nope.yaml"
expect 1 "bad-port.yaml:6:37: .*" up "$fixtures/bad-port.yaml"
# run: usage errors and invalid files need no target
expect 2 'expected scenario files or directories' run
expect 2 'run: -j expects 1-64, got "0"' run -j 0 x.yaml
expect 2 '--tap and --json both want stdout' run --tap --json x.yaml
expect 2 'harness run: .*nope.yaml: No such file or directory' run "$fixtures/nope.yaml"
expect 3 'invalid.yaml:6:21: expect.journal.calls\[0\]: expected a call name as the journal writes it' \
  run "$fixtures/run/invalid.yaml"
expect 3 'hitest.yaml:1:1: no program: section, nothing to run' run "$fixtures/hitest.yaml"
expect 2 'no case to run \(nothing matches --only\)' \
  run --only 'zzz*' "$fixtures/run/diverge.yaml"
expect 1 'run/invalid.yaml:6:21: expect.journal.calls\[0\]' check "$fixtures/run/invalid.yaml"
# fuzz: alone is valid; harness run leaves it to harness fuzz (skipped: 77)
expect 0 'fuzz.yaml: ok \(target fuzzfix, 0 services, fuzz: 2 policies\)' \
  check "$fixtures/fuzz.yaml"
expect 1 'fuzz-bad.yaml:6:32: fuzz.tree\[2\]: expected exactly one of content, size, symlink, link, dir and fifo; size is already given' \
  check "$fixtures/fuzz-bad.yaml"
expect 77 '^\[1/1\] SKIP +fuzz ' run --no-color "$fixtures/fuzz.yaml"
expect 77 '^    a fuzz: scenario: run it with harness fuzz$' run --no-color "$fixtures/fuzz.yaml"
# harness fuzz: usage, invalid files, an engine that does not exist,
# and --show: the same seed is the same sequence, another seed another
expect 2 'harness fuzz: expected one scenario file' fuzz
expect 3 'fuzz-bad.yaml:6:32: fuzz.tree\[2\]' fuzz "$fixtures/fuzz-bad.yaml"
expect 3 'hitest.yaml: no fuzz: section' fuzz "$fixtures/hitest.yaml"
expect 2 'harness fuzz: --engine: expected layer, supervisor or auto, got "ptrace"' \
  fuzz --engine ptrace "$fixtures/fuzz.yaml"
expect 2 '--minutes and --sequences: give one budget' \
  fuzz --minutes 1 --sequences 5 "$fixtures/fuzz.yaml"
expect 2 '--policy nope: no such policy' fuzz --policy nope "$fixtures/fuzz.yaml"
expect 0 '^# seed 42, policy rw$' fuzz --show 42 "$fixtures/fuzz.yaml"
a=$("$harness" fuzz --show 42 --policy hidden "$fixtures/fuzz.yaml")
b=$("$harness" fuzz --show 42 --policy hidden "$fixtures/fuzz.yaml")
c=$("$harness" fuzz --show 43 --policy hidden "$fixtures/fuzz.yaml")
if [ "$a" != "$b" ] || [ "$a" = "$c" ] || [ "$(printf '%s\n' "$a" | wc -l)" -ne 11 ]; then
  echo "FAIL: fuzz --show: a seed must give one sequence of fuzz.length calls" >&2
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI check(s) failed" >&2
  exit 1
fi
echo "all CLI checks passed"
