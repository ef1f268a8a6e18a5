# The traffic client of scenarios/incoming-*.yaml, run in a service
# container (python3 standard library only).  Prints one line per answer.
#   client.py http1 HOST PORT N [--alternate 'Name: value'] [--header 'Name: value']
#       N requests GET /1 .. /N on ONE keep-alive connection, each with
#       X-Req: i; --alternate puts the header on the odd ones (1, 3, ...),
#       --header on every one.  Prints each answer's body.
#   client.py conns HOST PORT N      N connections at once, one request each
#   client.py body HOST PORT MIB     one POST of MIB MiB; prints the answer
#   client.py ws HOST PORT [--header 'Name: value']   a websocket upgrade,
#       three text frames; prints each answer frame's text
#   client.py raw HOST PORT N        N requests written on one connection,
#       answers read; prints "sent " + the JSON string of every byte sent,
#       then each answer's body
import base64
import http.client
import json
import os
import socket
import struct
import sys
import threading


def hdr(s):
    k, v = s.split(":", 1)
    return k.strip(), v.strip()


def opt(args, name):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return v
    return None


def http1(host, port, n, args):
    alt, every = opt(args, "--alternate"), opt(args, "--header")
    c = http.client.HTTPConnection(host, port, timeout=30)
    for i in range(1, n + 1):
        h = {"X-Req": str(i)}
        if every:
            h.update([hdr(every)])
        if alt and i % 2 == 1:
            h.update([hdr(alt)])
        c.request("GET", "/%d" % i, headers=h)
        r = c.getresponse()
        print(r.read().decode().strip(), flush=True)
    c.close()


def conns(host, port, n):
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        c = http.client.HTTPConnection(host, port, timeout=60)
        c.connect()
        go.wait()
        c.request("GET", "/c%d" % i, headers={"X-Req": str(i), "Connection": "close"})
        out[i] = c.getresponse().read().decode().strip()
        c.close()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in out:
        print(o)


def body(host, port, mib):
    size = mib << 20

    def chunks():
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(mib):
            yield block

    c = http.client.HTTPConnection(host, port, timeout=120)
    c.request("POST", "/upload", body=chunks(),
              headers={"Content-Length": str(size), "X-Req": "big"})
    print(c.getresponse().read().decode().strip())


def ws(host, port, args):
    extra = opt(args, "--header")
    s = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\nX-Req: ws\r\n" % (host, port, key))
    if extra:
        req += "%s: %s\r\n" % hdr(extra)
    s.sendall((req + "\r\n").encode())
    f = s.makefile("rb")
    status = f.readline().decode().strip()
    print(status.split(" ", 2)[1])
    while f.readline() not in (b"\r\n", b""):
        pass
    for i in range(1, 4):
        text = ("hello %d" % i).encode()
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(text)]) + mask +
                  bytes(c ^ mask[j % 4] for j, c in enumerate(text)))
        b0, b1 = f.read(2)
        print(f.read(b1 & 127).decode())
    s.sendall(bytes([0x88, 0x80]) + b"\0\0\0\0")
    s.close()


def raw(host, port, n):
    s = socket.create_connection((host, port), timeout=30)
    sent = b""
    f = s.makefile("rb")
    bodies = []
    for i in range(1, n + 1):
        data = b"x" * (i * 7)
        req = ("POST /m%d?q=%d HTTP/1.1\r\nHost: %s\r\nX-Req: %d\r\n"
               "Content-Length: %d\r\n\r\n" % (i, i, host, i, len(data))).encode() + data
        s.sendall(req)
        sent += req
        line = f.readline()
        length = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b""):
                break
            k, v = h.decode().split(":", 1)
            if k.lower() == "content-length":
                length = int(v)
        bodies.append(f.read(length).decode().strip())
        assert line.startswith(b"HTTP/1.1 200"), line
    s.close()
    print("sent " + json.dumps(sent.decode("latin-1")))
    for b in bodies:
        print(b)


def main():
    args = sys.argv[1:]
    mode, host, port = args[0], args[1], int(args[2])
    rest = args[3:]
    if mode == "http1":
        http1(host, port, int(rest[0]), rest[1:])
    elif mode == "conns":
        conns(host, port, int(rest[0]))
    elif mode == "body":
        body(host, port, int(rest[0]))
    elif mode == "ws":
        ws(host, port, rest)
    elif mode == "raw":
        raw(host, port, int(rest[0]))
    else:
        sys.exit("unknown mode " + mode)


main()
