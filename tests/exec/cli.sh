#!/usr/bin/env bash
# harness exec without a target: help, usage errors (exit 2), a target that
# is not up (exit 1), --config validation (no root needed).
#   cli.sh HARNESS_BIN FIXTURE_YAML
set -uo pipefail
harness=$1 fixture=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect CODE PATTERN ARGS...: harness ARGS exits CODE and its output
# (stdout+stderr) matches the extended regex.
expect() {
  local code=$1 pattern=$2
  shift 2
  "$harness" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! cat "$work/out" "$work/err" | grep -Eq -- "$pattern"; then
    echo "FAIL: harness $* -> exit $rc (want $code), output:" >&2
    sed 's/^/  | /' "$work/out" "$work/err" >&2
    echo "  wanted /$pattern/" >&2
    failures=$((failures + 1))
  fi
}

expect 0 '^usage: harness exec --target NAME' exec --help
expect 0 'SHUNT_CONFIG'                       exec --help
expect 0 'static'                             exec --help
expect 0 'exec +run a local command'          --help
expect 2 'harness exec: --target NAME is required' exec -- true
expect 0 '--engine E'                         exec --help
expect 2 'harness exec: --engine ptrace: expected layer, supervisor or auto' \
  exec --target x --engine ptrace -- true
expect 2 'missing the command to run'         exec --target x
expect 2 'missing the command to run'         exec --target x --
expect 2 'unknown option --bogus'             exec --bogus --target x -- true
expect 2 '--target needs a value'             exec --target
expect 2 'unknown log level "loud"'           exec --target x --log loud -- true
expect 1 'target shunt-no-such-target is not up' exec --target shunt-no-such-target -- true
expect 1 'start it with `harness up SCENARIO.yaml`' exec --target shunt-no-such-target -- true
# --config is read only once the target is known to be up: check it with
# `harness check` here (the scenario carries the same layer: section).
expect 0 'xtest.yaml: ok'                     check "$fixture"
printf 'target: {name: t}\nlayer:\n  files: {local: ["(a"]}\n' > "$work/bad.yaml"
expect 1 'bad.yaml:3:19: layer.files.local\[0\]: invalid regular expression' \
  check "$work/bad.yaml"
printf 'target: {name: t}\nlayer:\n  env: {include: [A], excl: []}\n' > "$work/bad2.yaml"
expect 1 'bad2.yaml:3:23: layer.env.excl: unknown key \(allowed: include, exclude\)' \
  check "$work/bad2.yaml"

[ $failures -eq 0 ] && echo "exec cli checks passed"
exit $((failures > 0))
