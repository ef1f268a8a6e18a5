#!/usr/bin/env python3
"""Issue 13 §2.4: connections that never say HELLO.
   auth_flood.py PROXY_SOCKET AGENT_PORT
Proxy: 80 idle connections to its unix socket; at most 16 may stay open
(the oldest go first) and none past the 5 s handshake deadline.  Agent: 80
idle TCP connections must not take its 64 client slots: one more
connection is not answered EUSERS.  Prints a summary; exit 1 on failure."""
import socket, sys, time

sock_path, agent_port = sys.argv[1], int(sys.argv[2])
bad = []

def closed(s):
    try:
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

px = []
for _ in range(80):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    px.append(s)
time.sleep(1.0)
open_now = sum(not closed(s) for s in px)
print(f"proxy: {open_now} of 80 idle connections still open after 1 s")
if open_now > 16:
    bad.append(f"proxy keeps {open_now} unauthenticated connections (budget 16)")

ag = []
for _ in range(80):
    ag.append(socket.create_connection(("127.0.0.1", agent_port)))
time.sleep(0.3)
probe = socket.create_connection(("127.0.0.1", agent_port))
probe.settimeout(1.0)
try:
    data = probe.recv(4096)
    got = "EOF" if data == b"" else f"{len(data)} bytes (an ERROR frame: EUSERS)"
except socket.timeout:
    got = None
print(f"agent: a connection after 80 idle ones got {got or 'nothing (waits for HELLO)'}")
if got:
    bad.append(f"agent answered a new connection with {got}")

time.sleep(5.5)
left = sum(not closed(s) for s in px)
print(f"proxy: {left} idle connections open 6.5 s after connecting")
if left:
    bad.append(f"proxy kept {left} connections past the handshake deadline")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
