# Sourced by the scripts that compare a program run inside the target
# (runc exec) with the same program run locally under the layer (harness
# exec).  The sourcing script sets harness, name, ctr, work, and optionally
# config (a --config file for harness exec) and engine (its --engine); it
# counts in passed/failed.

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $1"
  shift
  for f in "$@"; do
    [ -s "$f" ] && { echo "---- $(basename "$f")"; head -c 4000 "$f"; echo; }
  done
}

# remote/local CMD...: run CMD in the target (runc exec) or locally under
# the layer or $engine (harness exec); stdout in $work/{r,l}.out, stderr
# in .err, status in $rrc/$lrc.  Both run from /tmp (local by policy, and a tmpfs
# in the target), so only absolute paths name the tree.
remote() { (cd /tmp && runc exec --cwd /tmp "$ctr" "$@") >"$work/r.out" 2>"$work/r.err"; rrc=$?; }
local_() {
  (cd /tmp && timeout 120 "$harness" exec --target "$name" ${config:+--config "$config"} \
    ${engine:+--engine "$engine"} -- "$@") \
    >"$work/l.out" 2>"$work/l.err"
  lrc=$?
  [ -n "${SHUNT_TEST_SHOW_LOG:-}" ] && sed 's/^/  layer: /' "$work/l.err"
  return 0
}

# compare LABEL CMD...: same stdout and status both ways; the remote run must
# succeed and print something (so that two identical failures do not pass).
compare() {
  local label=$1
  shift
  remote "$@"
  local_ "$@"
  if [ "$rrc" -ne 0 ] || [ ! -s "$work/r.out" ]; then
    fail "$label: the reference run in the target failed (status $rrc)" "$work/r.out" "$work/r.err"
  elif cmp -s "$work/r.out" "$work/l.out" && [ "$rrc" -eq "$lrc" ]; then
    pass "$label"
  else
    diff -au "$work/r.out" "$work/l.out" 2>&1 | cat -v > "$work/diff"
    fail "$label: target status $rrc, local status $lrc" "$work/diff" "$work/l.err"
  fi
}

# compare_status LABEL CMD...: same exit status (and stdout) both ways; the
# status may be non-zero.
compare_status() {
  local label=$1
  shift
  remote "$@"
  local_ "$@"
  if cmp -s "$work/r.out" "$work/l.out" && [ "$rrc" -eq "$lrc" ]; then
    pass "$label (status $lrc)"
  else
    diff -au "$work/r.out" "$work/l.out" 2>&1 | cat -v > "$work/diff"
    fail "$label: target status $rrc, local status $lrc" "$work/diff" "$work/l.err"
  fi
}

