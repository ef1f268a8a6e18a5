#!/usr/bin/env bash
# harness run with traffic: end to end, without the incoming proxy: the
# target's daemon comes up, the program (fixtures/traffic/fake-sub.sh)
# lists its own subscription as the proxy would, the client (curl in a
# service container) runs, and each expectation passes or fails with its
# message; a subscription that never appears fails naming the port; a
# program that ends first fails saying so; after_exit retries the client.
# Usage: traffic_test.sh HARNESS FIXTURES_DIR.  Needs root and runc (77).
set -uo pipefail
harness=$1
fx=$2/traffic
[ "$(id -u)" = 0 ] && command -v runc >/dev/null || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-traffictest.XXXXXX)
trap '"$harness" down htraffic >/dev/null 2>&1; "$harness" down htraffic-bad >/dev/null 2>&1; rm -rf "$work"' EXIT
fails=0
check() { # NAME WANT_RC GOT_RC OUTFILE PATTERN...
  local name=$1 want=$2 got=$3 out=$4; shift 4
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
  fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$out"; then
      echo "FAIL $name: no line matches: $p"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
    fi
  done
  echo "ok   $name"
}

"$harness" run --no-color "$fx/traffic.yaml" > "$work/out" 2>&1
rc=$?
check "the daemon answers, the client runs, expectations hold" 1 "$rc" "$work/out" \
  '^\[1/5\] PASS +traffic/pass ' \
  '^    traffic.wait: subscription "18080 18080 steal" after [0-9]+ ms$' \
  "^    traffic: the client's and the program's output as expected$" \
  "^    traffic.after_exit: the port is the target's own again \([0-9]+ ms after the program stopped, attempt 1\)$"
check "a count that does not hold fails, with the client's output" 1 "$rc" "$work/out" \
  '^\[2/5\] FAIL +traffic/wrong-count ' \
  "^    traffic.expect.client_counts.local: the client's stdout has 0 lines \"local\", expected 3$" \
  '^      the client: exit 0$' '^        \| remote$' '^      the program: exit 143$' \
  '^        \| listening$'
check "a failing client fails, with its status, stdout and stderr" 1 "$rc" "$work/out" \
  '^\[3/5\] FAIL +traffic/client-fails ' \
  '^    traffic.expect.client_status: the client ended with exit 3, expected exit 0$' \
  '^    traffic.expect.client_stdout\[0\]: the client.s stdout line 1 "oops" does not match \^remote\$$' \
  '^        \| oops$' '^        \| bad$'
check "no subscription: fails naming the port" 1 "$rc" "$work/out" \
  '^\[4/5\] FAIL +traffic/no-sub ' \
  '^    traffic.wait: no subscription of the target.s port 18081 within 2 s \(no line "18081 \.\.\." in /run/shunt/targets/htraffic/incoming/\*\)$'
check "a program that ends before subscribing fails saying so" 1 "$rc" "$work/out" \
  '^\[5/5\] FAIL +traffic/ends-early ' \
  '^    traffic.wait: the program ended \(exit 0\) before the target.s port 18083 was subscribed$'

# after_exit that never holds: retried for `within`, then fails
sed -e 's/expect: {client_stdout: \["\^remote\$"\]}/expect: {client_stdout: ["^local$"]}\n        within: 300/' \
  "$fx/traffic.yaml" > "$fx/.after-$$.yaml"
"$harness" run --no-color --only '*/pass' "$fx/.after-$$.yaml" > "$work/out" 2>&1
rc=$?
rm -f "$fx/.after-$$.yaml"
check "after_exit retries the client, then fails" 1 "$rc" "$work/out" \
  '^    traffic.after_exit: not the target.s own service 300 ms after the program stopped: traffic.after_exit.expect.client_stdout\[0\]: the client.s stdout line 1 "remote" does not match \^local\$$' \
  '^    traffic.after_exit failed \(attempt [2-9][0-9]*, [0-9]+ ms\):$'

# a daemon that exits before its port answers fails up, with its log
"$harness" up "$fx/bad-daemon.yaml" > "$work/out" 2>&1
check "a daemon that exits fails up, with its log" 1 "$?" "$work/out" \
  'target.daemons\[0\] `sh -c echo daemon says bye; exit 3` exited before its port 18090 answered' \
  'daemon says bye'

# harness status lists the subscriptions of a target that is up
"$harness" up "$fx/traffic.yaml" > "$work/up" 2>&1 || { echo "FAIL up"; cat "$work/up"; exit 1; }
sh "$fx/fake-sub.sh" htraffic 18080 > /dev/null &
sub=$!
for _ in $(seq 50); do [ -e /run/shunt/targets/htraffic/incoming/$sub ] && break; sleep 0.1; done
"$harness" status htraffic > "$work/out" 2>&1
check "harness status lists a subscription" 0 "$?" "$work/out" \
  "^  incoming: port 18080 -> local port 18080 \(steal, harness exec pid $sub\)$"
"$harness" status --json htraffic > "$work/out" 2>&1
check "harness status --json lists it" 0 "$?" "$work/out" \
  "\"incoming\":\[\{\"remote_port\":18080,\"local_port\":18080,\"mode\":\"steal\",\"pid\":$sub\}\]"
kill $sub; wait $sub 2>/dev/null
"$harness" status htraffic > "$work/out" 2>&1
if grep -q incoming "$work/out"; then
  echo "FAIL a stale subscription list is not shown"; fails=$((fails+1))
else
  echo "ok   a stale subscription list is not shown"
fi

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all traffic checks passed"
