#!/usr/bin/env bash
# End-to-end test of the layer: a runc target made from fixture.yaml under
# its own name, the real agent and proxy (harness proxy), and one test
# program run under LD_PRELOAD=libshunt.so.  Cleans up on any exit.
#   run.sh HARNESS LIBSHUNT FIXTURE NAME CONFIG EXPECT PROGRAM [ARGS...]
# CONFIG: a layer config file or "-"; EXPECT: "PATH=CONTENT" that must hold
# in the target afterwards, or "-".  In ARGS, @LOCAL@ becomes a local file
# whose content is "local content".
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 config=$5 expect=$6
shift 6
work=$(mktemp -d /tmp/shunt-ltest.XXXXXX)
proxy_pid=

cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  "$harness" down "$name" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "run.sh: $*" >&2
  [ -s "$work/layer.log" ] && sed 's/^/layer: /' "$work/layer.log" | tail -50 >&2
  [ -s "$work/proxy.log" ] && sed 's/^/proxy: /' "$work/proxy.log" | tail -20 >&2
  exit 1
}

sed "s/^  name: ltest\$/  name: $name/" "$fixture" > "$work/fixture.yaml"
"$harness" up "$work/fixture.yaml" > "$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "harness up failed"; }
ctr=shunt-$name-target
runc exec "$ctr" /bin/sh -c '
  ln -sf hello.txt /srv/data/link && ln -sf nowhere /srv/data/dangling &&
  seq 1 400000 > /srv/data/big.txt' || fail "cannot prepare the target"

sock=$work/proxy.sock
"$harness" proxy --target "$name" --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 150); do
  grep -q "^proxy listening on $sock\$" "$work/proxy.out" 2>/dev/null && break
  kill -0 "$proxy_pid" 2>/dev/null || fail "harness proxy exited early"
  sleep 0.1
done
grep -q "^proxy listening on" "$work/proxy.out" || fail "harness proxy did not come up"

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

if [ "$expect" != - ]; then
  path=${expect%%=*} want=${expect#*=}
  got=$(runc exec "$ctr" cat "$path") || fail "$path is missing in the target"
  [ "$got" = "$want" ] || fail "$path in the target is '$got', want '$want'"
fi
if grep -q " error: " "$work/layer.log" 2>/dev/null; then
  fail "the layer logged errors"
fi
echo "run.sh: ${args[0]##*/} passed against target $name"
