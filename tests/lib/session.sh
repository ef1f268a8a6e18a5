# Sourced by the end-to-end test scripts: a target brought up from a fixture
# under the test's own name, `harness proxy` for it, and cleanup on any exit.
# The sourcing script sets `harness` and `name`, then calls:
#   st_init TAG          work dir /tmp/shunt-TAG.XXXXXX ($work), EXIT trap
#   st_up FIXTURE        harness up of FIXTURE with its target renamed $name;
#                        sets ctr=shunt-$name-target
#   st_proxy             harness proxy for the target; sets sock, proxy_pid,
#                        agent_pid
#   st_fail MSG...       prints MSG and the tails of the logs, exits 1
# SHUNT_TEST_KEEP=1 keeps the work dir.
st_tag=test
proxy_pid=

st_cleanup() {
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null
    wait "$proxy_pid" 2>/dev/null
  fi
  "$harness" down "$name" >/dev/null 2>&1
  if [ -n "${SHUNT_TEST_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

st_init() {
  st_tag=$1
  work=$(mktemp -d "/tmp/shunt-$st_tag.XXXXXX")
  trap st_cleanup EXIT
}

st_fail() {
  echo "$st_tag: $*" >&2
  [ -s "$work/layer.log" ] && sed 's/^/layer: /' "$work/layer.log" | tail -50 >&2
  [ -s "$work/proxy.log" ] && sed 's/^/proxy: /' "$work/proxy.log" | tail -20 >&2
  exit 1
}

st_up() {
  # The target's own name line is the first "  name:" of the file.
  sed "0,/^  name: .*/s//  name: $name/" "$1" > "$work/fixture.yaml"
  "$harness" up "$work/fixture.yaml" > "$work/up.log" 2>&1 ||
    { cat "$work/up.log" >&2; st_fail "harness up failed"; }
  ctr=shunt-$name-target
}

st_proxy() {
  sock=$work/proxy.sock
  "$harness" proxy --target "$name" --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 1 150); do
    grep -q "^proxy listening on $sock\$" "$work/proxy.out" 2>/dev/null && break
    kill -0 "$proxy_pid" 2>/dev/null || st_fail "harness proxy exited early"
    sleep 0.1
  done
  grep -q "^proxy listening on" "$work/proxy.out" || st_fail "harness proxy did not come up"
  agent_pid=$(pgrep -P "$proxy_pid" -f shunt-agent | head -n1)
}
