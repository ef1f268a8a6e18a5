#!/usr/bin/env bash
# harness record for a person: --help, usage errors, exit statuses, the
# journal and leaks as text and JSON, the timeout.  No root needed.
#   cli.sh HARNESS_BIN
set -uo pipefail
harness=$1
work=$(mktemp -d /tmp/shunt-rec-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0 passed=0
check() { # LABEL WANT_RC CMD... ; stdout/stderr in $work/out, $work/err
  local label=$1 want=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  if [ "$rc" -eq "$want" ]; then passed=$((passed + 1)); echo "PASS: $label"; return 0; fi
  failed=$((failed + 1)); echo "FAIL: $label: status $rc, want $want"
  head -c 3000 "$work/err"
  return 1
}
has() { # LABEL FILE REGEX
  if grep -Eq -- "$3" "$2"; then passed=$((passed + 1)); echo "PASS: $1"
  else failed=$((failed + 1)); echo "FAIL: $1: no /$3/ in $(basename "$2")"; head -c 3000 "$2"; fi
}

check "--help" 0 "$harness" record --help
has "--help lists --remote-path" "$work/out" '^  --remote-path REGEX'
check "listed in harness --help" 0 "$harness" --help
has "record in the command table" "$work/out" '^  record +run a command under the ptrace recorder'
check "no command" 2 "$harness" record --remote-path x
has "no command: why" "$work/err" 'missing the command to run'
check "bad regex" 2 "$harness" record --remote-path '(' -- true
has "bad regex: why" "$work/err" '^harness record: --remote-path \(: '
check "bad CIDR" 2 "$harness" record --remote-net 10.0.0.0/40 -- true
has "bad CIDR: why" "$work/err" '^harness record: --remote-net 10.0.0.0/40: '
check "a name is not a CIDR" 2 "$harness" record --remote-net api.cluster -- true
check "bad timeout" 2 "$harness" record --timeout -1 -- true
check "unknown option" 2 "$harness" record --frobnicate -- true
check "missing command" 127 "$harness" record -- /nonexistent/cmd
check "exit status" 5 "$harness" record -- sh -c 'exit 5'
check "killed by a signal" 143 "$harness" record -- sh -c 'kill -TERM $$'

missing=/nonexistent-rec-cli/file
check "a leak: cat of a remote-only path" 1 \
  "$harness" record --remote-path '^/nonexistent-rec-cli/' -- cat "$missing"
has "journal: the execve" "$work/err" '^\[pid [0-9]+\] execve\("/(usr/)?bin/cat", \["cat", "/nonexistent-rec-cli/file"\]\) = 0$'
has "journal: the exit" "$work/err" '^\[pid [0-9]+\] \+\+\+ exited with 1 \+\+\+$'
has "one leak" "$work/err" '^1 leak$'
has "the leak" "$work/err" "^LEAK \[pid [0-9]+\] openat\(AT_FDCWD, \"$missing\", O_RDONLY\) = -1 ENOENT \(No such file or directory\): $missing matches --remote-path$"

check "--json -o FILE" 1 "$harness" record --json -o "$work/j.json" \
  --remote-path '^/nonexistent-rec-cli/' -- cat "$missing"
if python3 - "$work/j.json" "$missing" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit_code"] == 1 and d["timed_out"] is False, d
assert len(d["leaks"]) == 1, d["leaks"]
l = d["leaks"][0]
assert l["syscall"] == "openat" and sys.argv[2] in l["args"] and l["result"] == -2, l
assert any(e["kind"] == "exit" for e in d["events"])
PY
then passed=$((passed + 1)); echo "PASS: JSON"; else failed=$((failed + 1)); echo "FAIL: JSON"; fi

check "--leaks-only" 1 "$harness" record --leaks-only --remote-path '^/nonexistent-rec-cli/' -- cat "$missing"
[ "$(grep -c '^\[pid' "$work/err")" -eq 1 ] && { passed=$((passed + 1)); echo "PASS: --leaks-only prints one call"; } ||
  { failed=$((failed + 1)); echo "FAIL: --leaks-only"; cat "$work/err"; }

# --config: the layer's policy (no layer runs here, so whatever it would
# have forwarded is a leak): a read in read mode is one, a write is not.
printf 'layer:\n  files:\n    read_only: ["^/nonexistent-rec-cli/"]\n' > "$work/layer.yaml"
check "--config: a read of a read_only path" 1 \
  "$harness" record --config "$work/layer.yaml" -- /bin/cat "$missing"
has "--config: one leak" "$work/err" '^1 leak$'
has "--config: the leak" "$work/err" "^LEAK .*openat\(AT_FDCWD, \"$missing\", O_RDONLY\).*: $missing is remote \(read\) in the layer's policy$"
check "--config: a write in read mode stays local" 1 \
  "$harness" record --config "$work/layer.yaml" -- /usr/bin/tee /nonexistent-rec-cli/new </dev/null
has "--config: the write is journaled" "$work/err" 'openat\(AT_FDCWD, "/nonexistent-rec-cli/new", O_WRONLY\|O_CREAT\|O_TRUNC, 0666\) = -1 ENOENT'
has "--config: no leak" "$work/err" '^0 leaks$'
printf 'layer:\n  files:\n    read_only: ["("]\n' > "$work/bad.yaml"
check "--config: a bad layer section" 1 "$harness" record --config "$work/bad.yaml" -- true
has "--config: why" "$work/err" 'layer.files.read_only\[0\]: invalid regular expression'

start=$(date +%s)
check "--timeout kills the tree (124)" 124 "$harness" record --timeout 0.5 -- sh -c 'sleep 30 & sleep 30'
has "timeout: why" "$work/err" 'timed out after 500 ms'
[ $(( $(date +%s) - start )) -lt 10 ] && { passed=$((passed + 1)); echo "PASS: timeout was quick"; } ||
  { failed=$((failed + 1)); echo "FAIL: timeout took too long"; }

echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
