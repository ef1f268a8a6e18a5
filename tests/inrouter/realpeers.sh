#!/bin/bash
# The router between real programs: curl as the client, Python's
# http.server (HTTP/1.1) and nghttpd (h2c) as the two upstreams, and
# inrouter_peer (the router on sockets) between them.
#   realpeers.sh PEER_BINARY
set -u
peer=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/inrouter-peers.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { # what expected got
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1"; echo "  expected: $(printf %q "$2")"; echo "  got:      $(printf %q "$3")"; fail=1
  else
    echo "ok: $1"
  fi
}
waitfile() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no $1"; exit 1; }
nghttpd=$(command -v nghttpd || echo /usr/sbin/nghttpd)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- HTTP/1.1: keep-alive, order, a 50 MiB body with 100-continue --------
python3 "$here/httpserv.py" local "$tmp/lport" "$tmp/local.log" & pids+=($!)
python3 "$here/httpserv.py" remote "$tmp/rport" "$tmp/remote.log" & pids+=($!)
waitfile "$tmp/lport"; waitfile "$tmp/rport"
"$peer" "$tmp/pport" "$(cat "$tmp/lport")" "$(cat "$tmp/rport")" 'header ^x-route: local$' \
  2>"$tmp/peer.log" & pids+=($!)
waitfile "$tmp/pport"
P=$(cat "$tmp/pport")

args=() want=""
for i in $(seq 1 20); do
  [ "$i" -gt 1 ] && args+=(--next)
  if [ $((i % 2)) = 1 ]; then
    args+=(-H 'X-Route: local' "http://127.0.0.1:$P/r$i"); want+="local /r$i"$'\n'
  else
    args+=(-H 'X-Route: remote' "http://127.0.0.1:$P/r$i"); want+="remote /r$i"$'\n'
  fi
done
got=$(curl -sS "${args[@]}" -w '' 2>&1)
check "20 keep-alive requests, answers in order" "${want%$'\n'}" "$got"
check "the local service saw only the matching ten" \
  "$(for i in 1 3 5 7 9 11 13 15 17 19; do echo "GET /r$i x-route=local bytes=0 sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; done)" \
  "$(cat "$tmp/local.log")"
check "the remote service saw the other ten" "10" "$(grep -c 'x-route=remote' "$tmp/remote.log")"
check "one client connection" "1" "$(grep -c 'connection done: 10 local, 10 remote' "$tmp/peer.log")"

head -c $((50 * 1024 * 1024)) /dev/urandom >"$tmp/big"
sum=$(sha256sum "$tmp/big" | cut -d' ' -f1)
got=$(curl -sS -H 'X-Route: local' --data-binary @"$tmp/big" "http://127.0.0.1:$P/big" 2>&1)
check "50 MiB POST (curl sends Expect: 100-continue) answered" "local /big" "$got"
check "50 MiB POST arrived byte-exact" "POST /big x-route=local bytes=52428800 sha256=$sum" \
  "$(grep ' /big ' "$tmp/local.log")"

# ---- HTTP/2: prior knowledge (curl, h2load) and h2c upgrade (curl) ------------
mkdir -p "$tmp/ldoc" "$tmp/rdoc"
for f in l1 l2 l3 l4 l5 r1 r2 r3 r4 r5; do echo "local $f" >"$tmp/ldoc/$f"; echo "remote $f" >"$tmp/rdoc/$f"; done
# An nghttpd on a free port, answering before we go on: a port picked free
# can be taken by a concurrent test before nghttpd binds it (then it exits
# and is started again on another), and a loaded machine starts it slowly.
h2serve() { # DOCROOT -> its port on stdout
  local port pid
  for _ in 1 2 3 4 5; do
    port=$(freeport)
    "$nghttpd" --no-tls -d "$1" "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      if curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/"; then
        echo "$port $pid"; return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null
  done
  echo "nghttpd never answered" >&2; exit 1
}
read -r L2 lpid < <(h2serve "$tmp/ldoc"); pids+=("$lpid")
read -r R2 rpid < <(h2serve "$tmp/rdoc"); pids+=("$rpid")
"$peer" "$tmp/pport2" "$L2" "$R2" 'path ^/l' 2>"$tmp/peer2.log" & pids+=($!)
waitfile "$tmp/pport2"
P2=$(cat "$tmp/pport2")
for _ in $(seq 50); do curl -s --http2-prior-knowledge "http://127.0.0.1:$L2/l1" >/dev/null && \
  curl -s --http2-prior-knowledge "http://127.0.0.1:$R2/l1" >/dev/null && break; sleep 0.1; done

# nghttp: the ten on one connection at once (curl 7.88's -Z fails its own
# h2 multiplexing, even straight to nghttpd)
urls=()
for f in l1 r1 l2 r2 l3 r3 l4 r4 l5 r5; do urls+=("http://127.0.0.1:$P2/$f"); done
got=$(nghttp "${urls[@]}" | sort)
check "10 concurrent h2 streams routed by path" \
  "$(printf 'local l%s\n' 1 2 3 4 5; printf 'remote r%s\n' 1 2 3 4 5)" "$got"
check "... on one client connection" "1" "$(grep -c 'connection done: 5 local, 5 remote' "$tmp/peer2.log")"

got=$(curl -sS --http2 -w ' %{http_version}' "http://127.0.0.1:$P2/l3")
check "h2c upgrade by curl" "local l3
 2" "$got"

got=$(h2load -n 200 -c 2 -m 10 "http://127.0.0.1:$P2/r2" 2>&1 | grep -o '[0-9]* succeeded, [0-9]* failed')
check "h2load: 200 requests, 10 concurrent streams" "200 succeeded, 0 failed" "$got"
exit $fail
