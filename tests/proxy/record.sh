#!/usr/bin/env bash
# Recording mode end to end: `harness proxy --root DIR --record REC`, a real
# program under the layer reads, lists and stats remote files, and then
#   - REC/proto_decode holds frames that fuzz_proto_decode replays, among
#     them an OPEN of the file the program read;
#   - REC/agent_session holds pieces that fuzz_agent_session replays, each
#     a sequence of whole frames;
#   - a second identical session adds no new proto_decode files (names are
#     content hashes).
#   record.sh HARNESS LIBSHUNT FUZZ_PROTO_DECODE FUZZ_AGENT_SESSION
set -uo pipefail
harness=$1 lib=$2 fpd=$3 fas=$4
work=$(mktemp -d /tmp/shunt-record.XXXXXX)
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "record: $*" >&2; sed 's/^/proxy: /' "$work/proxy.log" | tail -20 >&2; exit 1; }

mkdir -p "$work/root/srv/app/conf.d"
echo "remote-config-7f3a" >"$work/root/srv/app/config.txt"
echo "x" >"$work/root/srv/app/conf.d/a.conf"
rec=$work/rec

run_session() {
  local sock=$work/p$1.sock
  "$harness" proxy --root "$work/root" --socket "$sock" --record "$rec" \
    >"$work/proxy.out" 2>"$work/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 1 100); do
    grep -q "^proxy listening" "$work/proxy.out" 2>/dev/null && break
    kill -0 "$proxy_pid" 2>/dev/null || fail "harness proxy exited early"
    sleep 0.1
  done
  grep -q "^proxy listening" "$work/proxy.out" || fail "proxy did not come up"
  printf 'read_only ^/srv/app(/|$)\n' >"$work/layer.conf"
  out=$(LD_PRELOAD=$lib SHUNT_SOCKET=$sock SHUNT_TOKEN=$(cat "$sock.token") \
        SHUNT_CONFIG=$work/layer.conf SHUNT_LOG=warn \
        timeout 60 sh -c 'cat /srv/app/config.txt; ls /srv/app/conf.d; stat -c %s /srv/app/config.txt')
  [ "$out" = "$(printf 'remote-config-7f3a\na.conf\n19')" ] || fail "program saw: $out"
  kill "$proxy_pid"
  wait "$proxy_pid"
  proxy_pid=
}

run_session 1
n_pd=$(ls "$rec/proto_decode" | wc -l)
n_as=$(ls "$rec/agent_session" | wc -l)
[ "$n_pd" -ge 5 ] || fail "only $n_pd proto_decode seeds"
[ "$n_as" -ge 1 ] || fail "no agent_session seed"
grep -lq "/srv/app/config.txt" "$rec/proto_decode"/* || fail "no frame names the file read"
"$fpd" "$rec/proto_decode" >/dev/null || fail "fuzz_proto_decode rejects the recorded frames"
"$fas" "$rec/agent_session" >/dev/null || fail "fuzz_agent_session fails on the recorded sessions"
# each agent_session piece is whole frames: the length fields chain to the end
for f in "$rec/agent_session"/*; do
  python3 - "$f" <<'PY' || fail "$f is not a sequence of whole frames"
import struct, sys
b = open(sys.argv[1], 'rb').read()
i = 0
while i < len(b):
    (n,) = struct.unpack_from('<I', b, i)  # payload length; header 16
    i += 16 + n
sys.exit(0 if i == len(b) else 1)
PY
done
run_session 2
n_pd2=$(ls "$rec/proto_decode" | wc -l)
# the second session differs only in ids and handles, which appear in some
# frames: it may add a few, never double the set
[ "$n_pd2" -lt $((n_pd * 2)) ] || fail "second session added $((n_pd2 - n_pd)) of $n_pd frames"
echo "record: ok ($n_pd frames, $n_as session pieces; second session +$((n_pd2 - n_pd)))"
