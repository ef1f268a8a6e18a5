#!/usr/bin/env bash
# Integration test: a real runc target (harness up), the real agent and the
# proxy (harness proxy), exercised by itest_client.  Cleans up on any exit.
#   run.sh HARNESS_BIN CLIENT_BIN FIXTURE_YAML
set -uo pipefail
harness=$1 client=$2 fixture=$3
name=itest
work=$(mktemp -d /tmp/shunt-itest.XXXXXX)
proxy_pid=
hosts_added=

cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  "$harness" down "$name" >/dev/null 2>&1
  if [ -n "$hosts_added" ]; then
    grep -v "$hosts_added" /etc/hosts > "$work/hosts" && cat "$work/hosts" > /etc/hosts
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "run.sh: $*" >&2; [ -f "$work/proxy.log" ] && sed 's/^/proxy: /' "$work/proxy.log" >&2; exit 1; }

"$harness" up "$fixture" || fail "harness up failed"

# A host-only file with a secret, and symlinks in the target that point at it.
secret=$work/host-only-secret
echo "host secret $RANDOM$RANDOM" > "$secret"
runc exec "shunt-$name-target" /bin/sh -c "
  ln -sf '$secret' /srv/abs-link &&
  ln -sf '../../../../../..$secret' /srv/rel-link &&
  ln -sf '/proc/1/root$secret' /srv/proc-link" || fail "cannot create symlinks in the target"

# A name that only the host's resolver knows.
host_name=$(hostname)
if [ -z "$host_name" ] || ! getent hosts "$host_name" >/dev/null; then
  host_name=shunt-itest-hostonly-$$
  echo "127.0.0.1 $host_name" >> /etc/hosts
  hosts_added=$host_name
fi

sock=$work/proxy.sock
"$harness" proxy --target "$name" --socket "$sock" > "$work/proxy.out" 2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 100); do
  grep -q "^proxy listening on $sock\$" "$work/proxy.out" 2>/dev/null && break
  kill -0 "$proxy_pid" 2>/dev/null || fail "harness proxy exited early"
  sleep 0.1
done
grep -q "^proxy listening on" "$work/proxy.out" || fail "harness proxy did not come up"
agent_pid=$(pgrep -P "$proxy_pid" -f shunt-agent | head -n1)
[ -n "$agent_pid" ] || fail "no shunt-agent child of the proxy"

SHUNT_ITEST_SOCKET=$sock SHUNT_ITEST_SECRET=$secret SHUNT_ITEST_HOSTNAME=$host_name \
SHUNT_ITEST_AGENT_PID=$agent_pid "$client"
rc=$?
[ $rc -eq 0 ] || fail "itest_client failed ($rc)"
echo "integration checks passed"
