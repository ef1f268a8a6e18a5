#!/usr/bin/env bash
# Issue 13 §2.7: a scenario with 200,000 `files` entries (about 19 MB of
# YAML) is checked with a peak RSS under 500 MB.  Before, the loader copied
# a node's child array at every entry: 20,000 entries took 1.6 GB.
#   yaml_big.sh HARNESS [N]
set -uo pipefail
harness=$1 n=${2:-200000}
work=$(mktemp -d /tmp/shunt-advyaml.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$n" "$work/big.yaml" <<'PY'
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
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
echo "yaml_big: $n entries ($(stat -c %s "$work/big.yaml") bytes): peak RSS $rss KiB, $secs"
[ "$rss" -lt 512000 ] || { echo "yaml_big: peak RSS $rss KiB >= 500 MB" >&2; exit 1; }
echo "yaml_big passed"
