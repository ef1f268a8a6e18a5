#!/usr/bin/env bash
# Issue 13 §2.7: a scenario with 200,000 `files` entries (about 19 MB of
# YAML) is checked with a peak RSS under 500 MB (unsanitized builds), and
# with memory linear in the entries (every build).  Before, the loader copied
# a node's child array at every entry: 20,000 entries took 1.6 GB.
#   yaml_big.sh HARNESS [N [LIMIT_KIB]]   (no LIMIT_KIB: only linearity)
set -uo pipefail
harness=$1 n=${2:-200000} limit=${3:-}
work=$(mktemp -d /tmp/shunt-advyaml.XXXXXX)
trap 'rm -rf "$work"' EXIT
# One YAML file of COUNT entries; prints "RSS_KiB ELAPSED".
measure() {
  python3 - "$1" "$work/big.yaml" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("description: many files\ntarget:\n  name: adv-yaml-big\n  files:\n")
    for i in range(n):
        f.write(f"    - {{path: /srv/many/f{i}.txt, content: \"file number {i}\\n\"}}\n")
    f.write("program:\n  language: command\n  args: [true]\nexpect:\n  exit: true\n")
PY
  /usr/bin/time -v "$harness" check "$work/big.yaml" > "$work/out" 2> "$work/time" ||
    { cat "$work/out" "$work/time" >&2; echo "yaml_big: harness check failed" >&2; exit 1; }
  echo "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time") $(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")"
}
read -r small small_t < <(measure $((n / 4)))
read -r rss secs < <(measure "$n")
[ -n "${small:-}" ] && [ -n "${rss:-}" ] || { echo "yaml_big: no measurement" >&2; exit 1; }
echo "yaml_big: $((n / 4)) entries: peak RSS $small KiB, $small_t; $n entries: peak RSS $rss KiB, $secs"
# Linear: four times the entries take at most about four times the memory
# (quadratic took 16 times); the margin is for the process's fixed part.
[ "$rss" -lt $((small * 6)) ] ||
  { echo "yaml_big: 4x the entries took $rss KiB against $small KiB: not linear" >&2; exit 1; }
# The absolute bar only where the build is not sanitized (ASan's shadow
# memory and quarantine put the same loader near 500 MB).
if [ -n "$limit" ] && [ "$rss" -ge "$limit" ]; then
  echo "yaml_big: peak RSS $rss KiB >= $limit KiB" >&2
  exit 1
fi
echo "yaml_big passed"
