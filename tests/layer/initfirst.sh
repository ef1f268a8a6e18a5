#!/usr/bin/env bash
# The layer starts before every other initialiser (docs/hooking.md,
# "Start-up"), without a target (observe-only mode and its journal):
#  - the loader calls libshunt.so's initialiser first (LD_DEBUG=files);
#  - what other libraries' constructors do goes through the hooks: the
#    journal has libselinux's access("/etc/selinux/config") (ls, cp),
#    GnuTLS's stat("/etc/gnutls/config") (curl) and jemalloc's
#    readlink("/etc/malloc.conf") (redis-cli, dig), and each program prints
#    the same as without the layer;
#  - when another object takes the first place (LT_INITFIRST, also
#    -z initfirst, preloaded after the layer) the layer still starts, later,
#    journals the program's own calls, and says so once at warn level.
# Usage: initfirst.sh LIBSHUNT LT_INITFIRST
set -uo pipefail
lib=$1 other=$2
work=$(mktemp -d /tmp/shunt-initfirst.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
clean_env=(env -i PATH=/usr/bin:/bin HOME=/root)

first=$(LD_DEBUG=files LD_PRELOAD="$lib" ls / 2>&1 >/dev/null | grep -m1 'calling init:')
case "$first" in
  *"calling init: $lib") ok "the loader initialises libshunt.so first" ;;
  *) bad "first initialiser: '$first', not $lib" ;;
esac

n=0
check() { # CMD-WORDS... -- RECORD-PATTERN
  local cmd=() pat
  while [ "$1" != -- ]; do cmd+=("$1"); shift; done
  pat=$2 n=$((n+1))
  "${clean_env[@]}" "${cmd[@]}" > "$work/plain.$n" 2>&1; local rc1=$?
  "${clean_env[@]}" LD_PRELOAD="$lib" SHUNT_MODE=observe SHUNT_LOG=warn \
    SHUNT_JOURNAL="$work/j.$n" "${cmd[@]}" > "$work/obs.$n" 2>&1; local rc2=$?
  if [ $rc1 != $rc2 ] || ! diff "$work/plain.$n" "$work/obs.$n" > "$work/diff.$n"; then
    bad "${cmd[*]}: differs under the layer (exit $rc1 / $rc2)"; cat "$work/diff.$n"
  elif grep -qF "$pat" "$work/j.$n"; then
    ok "${cmd[*]}: journal has $pat"
  else
    bad "${cmd[*]}: no $pat in the journal (a constructor ran before the hooks)"
    head -5 "$work/j.$n"
  fi
}
check ls / -- 'access("/etc/selinux/config"'
check cp --version -- 'access("/etc/selinux/config"'
check curl --version -- 'stat("/etc/gnutls/config")'
check redis-cli --version -- 'readlink("/etc/malloc.conf")'
check dig -v -- 'readlink("/etc/malloc.conf")'

# The fallback: another INITFIRST object preloaded after the layer.
"${clean_env[@]}" LD_PRELOAD="$lib:$other" SHUNT_MODE=observe SHUNT_LOG=warn \
  SHUNT_JOURNAL="$work/jl" cat /etc/hostname > "$work/late.out" 2> "$work/late.err"
if cmp -s "$work/late.out" /etc/hostname &&
   grep -qE '^1 open\("/etc/hostname", O_RDONLY\) = [0-9]+$' "$work/jl"; then
  ok "started late: the program's calls are journalled"
else
  bad "started late: output or journal wrong"; cat "$work/late.err" "$work/jl"
fi
if [ "$(grep -c 'started after other libraries' "$work/late.err")" = 1 ] &&
   [ "$(grep -c . "$work/late.err")" = 1 ]; then
  ok "started late: one warning"
else
  bad "started late: no warning"; cat "$work/late.err"
fi

echo "$fails failure(s)"
[ $fails = 0 ]
