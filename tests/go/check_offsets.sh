#!/usr/bin/env bash
# The go.offsets test: measures the runtime's g/m offsets with every Go
# toolchain (go_offsets.sh) and compares them with the table in docs/go.md
# ("Go internals per version"), which the Go trampolines are written
# against.  Fails when a field is missing, when the fields measured are not
# the table's columns, when a Go minor version has no row (a new toolchain:
# measure it and add its row), or when a measured offset differs from its
# row (a toolchain that moved a field).  Exit 77 (skipped) with no Go.
#   check_offsets.sh [DOC [MEASURED]]
# MEASURED: a file with go_offsets.sh's output (and its exit status on a
# last line "rc N"), to check that instead of measuring again.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
doc=${1:-$here/../../docs/go.md}

# The table between its markers: "| 1.19 | go1.19.8 | 0 | 8 | ... |"
table=$(sed -n '/<!-- go-offsets-begin -->/,/<!-- go-offsets-end -->/p' "$doc" |
  grep '^|' | sed -E 's/^\|//; s/[[:space:]]*\|[[:space:]]*$//; s/[[:space:]]*\|[[:space:]]*/ /g; s/^[[:space:]]+//')
if [ -z "$table" ]; then
  echo "FAIL: no offsets table (go-offsets-begin/end markers) in $doc"
  exit 1
fi
doc_hdr=$(echo "$table" | head -n1 | cut -d' ' -f3-)
doc_rows=$(echo "$table" | tail -n +3) # header, separator, rows

if [ -n "${2:-}" ]; then
  measured=$(grep -v '^rc ' "$2")
  rc=$(sed -n 's/^rc //p' "$2")
  rc=${rc:-0}
else
  measured=$("$here/go_offsets.sh")
  rc=$?
fi
echo "$measured"
hdr=$(echo "$measured" | head -n1)
rows=$(echo "$measured" | tail -n +2)
if [ -z "$rows" ] && ((rc == 0)); then
  echo "SKIP: no Go toolchain (ci/setup installs them)"
  exit 77
fi
fail=0
if ((rc != 0)); then
  echo "FAIL: go_offsets.sh exited $rc (a field or a toolchain could not be measured)"
  fail=1
fi
if [ "${hdr#version }" != "$doc_hdr" ]; then
  echo "FAIL: measured fields differ from docs/go.md's columns:"
  echo "  measured: ${hdr#version }"
  echo "  docs:     $doc_hdr"
  fail=1
fi
nf=$(echo "$hdr" | wc -w)
while read -r ver vals; do
  [ -n "$ver" ] || continue
  read -ra v <<<"$vals"
  if ((${#v[@]} + 1 != nf)); then
    echo "FAIL: $ver: ${#v[@]} fields, want $((nf - 1))"
    fail=1
    continue
  fi
  bad=0
  for x in "${v[@]}"; do
    [[ $x =~ ^[0-9]+$ ]] || { echo "FAIL: $ver: field '$x' is not an offset"; bad=1; }
  done
  if ((bad)); then fail=1; continue; fi
  # The trampolines rely on these shapes: stack {lo, hi}, gobuf {sp, pc, g}.
  if ((v[1] != v[0] + 8 || v[4] != v[3] + 8 || v[5] != v[3] + 16)); then
    echo "FAIL: $ver: stack or gobuf layout changed: $vals"
    fail=1
  fi
  minor=$(echo "$ver" | sed -nE 's/^go(1\.[0-9]+).*/\1/p')
  row=$(echo "$doc_rows" | awk -v m="$minor" '$1 == m')
  if [ -z "$row" ]; then
    echo "FAIL: Go $minor ($ver) has no row in docs/go.md's offsets table: add one: | $minor | $ver | ${vals// / | } |"
    fail=1
    continue
  fi
  want=$(echo "$row" | cut -d' ' -f3-)
  if [ "$want" != "$vals" ]; then
    echo "FAIL: $ver: offsets moved since docs/go.md's row for $minor:"
    echo "  measured: $vals"
    echo "  docs:     $want"
    fail=1
  else
    echo "ok: $ver matches docs/go.md's row for $minor"
  fi
done <<<"$rows"
exit $fail
