#!/usr/bin/env bash
# End-to-end test of the layer: a runc target made from fixture.yaml under
# its own name, the real agent and proxy (harness proxy), and one test
# program run under LD_PRELOAD=libshunt.so.  Cleans up on any exit.
#   run.sh HARNESS LIBSHUNT FIXTURE NAME CONFIG EXPECT PROGRAM [ARGS...]
# CONFIG: a layer config file or "-"; EXPECT: "PATH=CONTENT" that must hold
# in the target afterwards, "!COMMAND=OUTPUT" (a shell command in the
# target and what it must print), or "-".  In ARGS, @LOCAL@ becomes a local file
# whose content is "local content".
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 config=$5 expect=$6
shift 6
. "$(dirname "$0")/../lib/session.sh"
st_init ltest
fail() { st_fail "$@"; }

st_up "$fixture"
runc exec "$ctr" /bin/sh -c '
  ln -sf hello.txt /srv/data/link && ln -sf nowhere /srv/data/dangling &&
  seq 1 400000 > /srv/data/big.txt' || fail "cannot prepare the target"
st_proxy

printf 'local content' > "$work/local.txt"
args=()
for a in "$@"; do
  [ "$a" = @LOCAL@ ] && a=$work/local.txt
  args+=("$a")
done
args+=()
[ "$config" = - ] && config=

# The local file's content comes last: lt_files compares it.
[ "${args[0]##*/}" = lt_files ] && args+=("local content")

LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
SHUNT_CONFIG=$config SHUNT_LOG=${SHUNT_TEST_LOG_LEVEL:-warn} \
SHUNT_LOG_FILE=$work/layer.log timeout 120 "${args[@]}"
rc=$?
[ $rc -eq 0 ] || fail "${args[0]##*/} failed ($rc)"

if [ "${expect#!}" != "$expect" ]; then
  # "!COMMAND=OUTPUT": a shell command run in the target prints OUTPUT
  cmd=${expect%%=*} want=${expect#*=}
  got=$(runc exec "$ctr" /bin/sh -c "${cmd#!}" 2>&1) || fail "'${cmd#!}' failed in the target: $got"
  [ "$got" = "$want" ] || fail "'${cmd#!}' in the target printed:
$got
want:
$want"
elif [ "$expect" != - ]; then
  path=${expect%%=*} want=${expect#*=}
  got=$(runc exec "$ctr" cat "$path") || fail "$path is missing in the target"
  [ "$got" = "$want" ] || fail "$path in the target is '$got', want '$want'"
fi
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "run.sh: ${args[0]##*/} passed against target $name"
