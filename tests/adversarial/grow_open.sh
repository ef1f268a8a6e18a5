#!/usr/bin/env bash
# Issue 13 §2.6: a file in the target grows from 1 MiB to 400 MiB (slowly
# up to 60 MiB, then in a burst) while grow_open opens it again and again.
#   grow_open.sh HARNESS LIBSHUNT FIXTURE NAME PROGRAM
set -uo pipefail
harness=$1 lib=$2 fixture=$3 name=$4 prog=$5
. "$(dirname "$0")/../lib/session.sh"
st_init advgrow
fail() { st_fail "$@"; }

st_up "$fixture"
runc exec "$ctr" sh -c 'head -c 1048576 /dev/zero > /srv/data/grow' || fail "cannot prepare the target"
st_proxy
runc exec -d "$ctr" sh -c 'sleep 1; i=1
  while [ $i -lt 60 ]; do head -c 1048576 /dev/zero >> /srv/data/grow; sleep 0.01; i=$((i+1)); done
  i=0; while [ $i -lt 43 ]; do head -c 8388608 /dev/zero >> /srv/data/grow; i=$((i+1)); done' ||
  fail "cannot start the writer in the target"
LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
SHUNT_LOG=warn SHUNT_LOG_FILE=$work/layer.log timeout 120 "$prog" /srv/data/grow 30
rc=$?
[ $rc -eq 0 ] || fail "grow_open failed ($rc)"
echo "grow_open passed"
