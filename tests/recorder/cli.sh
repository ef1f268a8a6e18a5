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

# --call-journal: the call journal of system calls (docs/recorder.md), the
# layer's record format, what the supervisor's runs are compared with
printf 'hello\n' > "$work/f.txt"
check "--call-journal: nothing but the program's output" 0 \
  "$harness" record --call-journal "$work/cj" -- \
  sh -c 'cat "$1"; /nonexistent-rec-cli/x 2>/dev/null; cat "$1" > /dev/null; exit 0' sh "$work/f.txt"
has "--call-journal: stdout is the program's" "$work/out" '^hello$'
if [ -s "$work/err" ]; then
  failed=$((failed + 1)); echo "FAIL: --call-journal: something on stderr"; head -c 2000 "$work/err"
else passed=$((passed + 1)); echo "PASS: --call-journal: stderr empty"; fi
f=$work/f.txt
has "the root's own exec is not recorded, its calls are (tag 1)" "$work/cj" \
  '^1 openat\(AT_FDCWD, "/dev/null", O_WRONLY[|]O_CREAT[|]O_TRUNC, 0666\) = [0-9]+$'
has "the first child's exec, before it runs (= ?)" "$work/cj" \
  "^1\\.1 execve\\(\"/(usr/)?bin/cat\", \\[\"cat\", \"$f\"\\]\\) = \\?\$"
has "its open" "$work/cj" "^1\\.1 openat\\(AT_FDCWD, \"$f\", O_RDONLY\\) = [0-9]+\$"
has "an fstat of an observed fd, with the stat" "$work/cj" \
  '^1\.1 fstatat\([0-9]+, "", AT_EMPTY_PATH\) = 0 \{mode=0100644, size=6\}$'
has "a failed exec: again with its result" "$work/cj" \
  '^1\.2 execve\("/nonexistent-rec-cli/x", \["/nonexistent-rec-cli/x"\]\) = -1 ENOENT$'
has "the third child: reads of its observed fd" "$work/cj" '^1\.3 read\([0-9]+, [0-9]+\) = 6$'
has "... and its close" "$work/cj" '^1\.3 close\([0-9]+\) = 0$'
if grep -Eq '^1(\.[0-9]+)? (read|write)\([0-2],' "$work/cj"; then
  failed=$((failed + 1)); echo "FAIL: --call-journal: stdio made records"; grep -E '\((read|write)\([0-2],' "$work/cj" | head
else passed=$((passed + 1)); echo "PASS: --call-journal: stdio makes no records"; fi
# (ctest may leave an fd of its own open: fd numbers are not fixed here)
: > "$work/thread.txt"
check "--call-journal: threads share their process's tag" 0 \
  "$harness" record --call-journal "$work/cj2" -- "${REC_PROG:-/nonexistent}" thread "$work/rp.out" "$work"
if [ -x "${REC_PROG:-/nonexistent}" ]; then
  has "the thread's open" "$work/cj2" '^1 openat\(AT_FDCWD, ".*/thread\.txt", O_RDONLY\) = [0-9]+$'
  if grep -Evq '^1 ' "$work/cj2"; then
    failed=$((failed + 1)); echo "FAIL: a thread got a tag of its own"; grep -Ev '^1 ' "$work/cj2" | head
  else passed=$((passed + 1)); echo "PASS: one tag for the threads"; fi
fi
check "--call-journal: an unwritable file" 1 \
  "$harness" record --call-journal /nonexistent-rec-cli/j -- true
has "--call-journal: why" "$work/err" '^harness record: /nonexistent-rec-cli/j: No such file or directory$'

echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
