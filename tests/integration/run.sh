#!/usr/bin/env bash
# Integration test: a real runc target (harness up), the real agent and the
# proxy (harness proxy), exercised by itest_client.  Cleans up on any exit.
#   run.sh HARNESS_BIN CLIENT_BIN FIXTURE_YAML
set -uo pipefail
harness=$1 client=$2 fixture=$3
name=itest
hosts_added=
. "$(dirname "$0")/../lib/session.sh"
st_init itest
cleanup() {
  if [ -n "$hosts_added" ]; then
    grep -v "$hosts_added" /etc/hosts > "$work/hosts" && cat "$work/hosts" > /etc/hosts
  fi
  st_cleanup
}
trap cleanup EXIT
fail() { st_fail "$@"; }

st_up "$fixture"

# A host-only file with a secret, and symlinks in the target that point at it.
secret=$work/host-only-secret
echo "host secret $RANDOM$RANDOM" > "$secret"
runc exec "$ctr" /bin/sh -c "
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

st_proxy
[ -n "$agent_pid" ] || fail "no shunt-agent child of the proxy"

SHUNT_ITEST_SOCKET=$sock SHUNT_ITEST_SECRET=$secret SHUNT_ITEST_HOSTNAME=$host_name \
SHUNT_ITEST_AGENT_PID=$agent_pid "$client"
rc=$?
[ $rc -eq 0 ] || fail "itest_client failed ($rc)"
echo "integration checks passed"
