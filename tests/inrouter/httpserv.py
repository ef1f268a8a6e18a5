#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 upstream for realpeers.sh: answers "NAME PATH\n",
logs "METHOD PATH x-route=V bytes=N sha256=H" per request to LOG.
    httpserv.py NAME PORTFILE LOG"""
import hashlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, portfile, log = sys.argv[1:4]


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        left = n
        while left:
            b = self.rfile.read(min(left, 1 << 20))
            if not b:
                break
            h.update(b)
            left -= len(b)
        with open(log, "a") as f:
            f.write("%s %s x-route=%s bytes=%d sha256=%s\n" % (
                self.command, self.path, self.headers.get("X-Route", "-"), n, h.hexdigest()))
        body = ("%s %s\n" % (name, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = answer


s = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
import os
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
