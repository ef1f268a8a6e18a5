# An HTTP/1.1 server answering WORD to every request (keep-alive), one line
# per request on stdout: METHOD PATH X-REQ BODY_BYTES (X-REQ: the X-Req
# header, or -).  An `Upgrade: websocket` request is answered 101 and each
# text frame echoed back as "WORD:TEXT".  Used as the local program and as
# the target's own service (docs/incoming.md, scenarios/incoming-*.yaml).
#   server.py WORD PORT [ADDR]
import base64
import hashlib
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORD = sys.argv[1]
PORT = int(sys.argv[2])
ADDR = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def log(method, path, xreq, n):
    sys.stdout.write("%s %s %s %d\n" % (method, path, xreq or "-", n))
    sys.stdout.flush()


def recv_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise EOFError
    return b


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return n
                left = size
                while left:
                    left -= len(self.rfile.read(min(left, 1 << 20)))
                self.rfile.readline()
                n += size
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            got = self.rfile.read(min(left, 1 << 20))
            if not got:
                break
            left -= len(got)
            n += len(got)
        return n

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        self.wfile.flush()
        try:
            while True:
                b0, b1 = recv_exact(self.rfile, 2)
                op, ln = b0 & 15, b1 & 127
                if ln == 126:
                    ln = struct.unpack(">H", recv_exact(self.rfile, 2))[0]
                elif ln == 127:
                    ln = struct.unpack(">Q", recv_exact(self.rfile, 8))[0]
                mask = recv_exact(self.rfile, 4) if b1 & 128 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(recv_exact(self.rfile, ln)))
                if op == 8:
                    self.wfile.write(b"\x88\x00")
                    self.wfile.flush()
                    return
                if op == 1:
                    sys.stdout.write("WS %s\n" % data.decode())
                    sys.stdout.flush()
                    out = ("%s:%s" % (WORD, data.decode())).encode()
                    self.wfile.write(bytes([0x81, len(out)]) + out)
                    self.wfile.flush()
        except (EOFError, ConnectionError):
            return

    def answer(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            log(self.command, self.path, self.headers.get("X-Req"), 0)
            self.close_connection = True
            return self.websocket()
        n = self.body()
        log(self.command, self.path, self.headers.get("X-Req"), n)
        data = (WORD + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = answer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


Server((ADDR, PORT), Handler).serve_forever()
