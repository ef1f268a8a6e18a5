#!/usr/bin/env bash
# harness run must never read, write or delete a host file through a link a
# target's program planted (issue 13 §1):
#  1. the program replaces /srv/out (expect.files) with a link to a host
#     directory holding a canary: the report must not show it, it must stay;
#  2. a kept target reused by later cases, with links planted at the
#     program's cache path and at libshunt.so's directory (expect.journal):
#     nothing may be written into those host directories, nothing unlinked.
# Usage: run_escape.sh HARNESS.  Needs root and runc (77).
set -uo pipefail
harness=$1
[ "$(id -u)" = 0 ] && command -v runc >/dev/null || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-adv-escape.XXXXXX)
trap '"$harness" down adv-esc-f >/dev/null 2>&1; "$harness" down adv-esc-k >/dev/null 2>&1; rm -rf "$work"' EXIT
export SHUNT_CACHE_DIR=$work/cache
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/  | /' "$2"; fails=$((fails+1)); }

# ---- 1. expect.files through a planted link -------------------------------
mkdir -p "$work/hostdir"
echo "CANARY-$$-host-secret" > "$work/hostdir/secret.txt"
# Both runs, so that the report shows the files' contents where they
# differ (the local run makes the link in the target through the layer).
cat > "$work/files.yaml" <<Y
target:
  name: adv-esc-f
layer:
  files:
    read_write: ["^/srv/"]
program:
  language: command
  args: [/bin/sh, -c, "rm -rf /srv/adv-out; ln -s $work/hostdir /srv/adv-out; echo planted"]
expect:
  files: [/srv/adv-out/secret.txt]
Y
"$harness" run --no-color "$work/files.yaml" > "$work/out1" 2>&1
if grep -q "CANARY-$$" "$work/out1"; then bad "expect.files: the host canary is in the report" "$work/out1"
else ok "expect.files: the host canary is not in the report"; fi
if [ -f "$work/hostdir/secret.txt" ]; then ok "expect.files: the host canary is still there"
else bad "expect.files: the host canary was deleted" "$work/out1"; fi
[ -L /srv/adv-out ] && { bad "the local run made /srv/adv-out on this host"; rm -f /srv/adv-out; }

# ---- 2. a reused target with links at the cache path and the layer's dir ---
lib=$(realpath "$(dirname "$harness")/../lib/libshunt.so")
libdir=$(dirname "$lib")
mkdir -p "$work/h1" "$work/h2"
echo "CANARY-lib" > "$work/h2/libshunt.so"
tgt='target:
  name: adv-esc-k'
cat > "$work/vb.yaml" <<Y
$tgt
program:
  language: shell
  inline: "echo hi"
expect:
  journal: true
Y
"$harness" run --no-color --keep "$work/vb.yaml" > "$work/out2" 2>&1
grep -q 'target adv-esc-k kept' "$work/out2" || bad "the first case did not keep its target" "$work/out2"
bdir=$(ls -d "$SHUNT_CACHE_DIR"/shell-* 2>/dev/null | head -1)
if [ -z "$bdir" ]; then bad "no build dir in $SHUNT_CACHE_DIR" "$work/out2"; exit 1; fi
cat > "$work/plant.yaml" <<Y
$tgt
program:
  language: command
  args: [/bin/sh, -c, "set -e; mv $bdir $bdir.old; ln -s $work/h1 $bdir; mv $libdir $libdir.old; ln -s $work/h2 $libdir; echo planted"]
runs: {local: false}
Y
"$harness" run --no-color --keep "$work/plant.yaml" > "$work/out3" 2>&1
grep -q 'PASS' "$work/out3" || bad "planting the links failed" "$work/out3"
cat > "$work/vl.yaml" <<Y
$tgt
program:
  language: command
  args: [/bin/echo, hi]
expect:
  journal: true
Y
"$harness" run --no-color --keep "$work/vl.yaml" > "$work/out4" 2>&1
grep -q 'already up' "$work/out4" || bad "the target was not reused" "$work/out4"
if [ "$(cat "$work/h2/libshunt.so" 2>/dev/null)" = CANARY-lib ]; then
  ok "journal: the host file at the link of the layer's directory is untouched"
else bad "journal: the host file behind the layer's directory link was replaced or deleted" "$work/out4"; fi
"$harness" run --no-color --keep "$work/vb.yaml" > "$work/out5" 2>&1
grep -q 'already up' "$work/out5" || bad "the target was not reused" "$work/out5"
if [ -z "$(ls -A "$work/h1")" ]; then ok "the build copy wrote nothing into the host directory behind the cache-path link"
else bad "the build was copied into the host directory $work/h1: $(ls "$work/h1")" "$work/out5"; fi
grep -q 'symbolic link' "$work/out5" && ok "the case says a link is in the way" ||
  bad "no clear error for the planted link" "$work/out5"
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
