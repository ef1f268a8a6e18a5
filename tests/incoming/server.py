#!/usr/bin/env python3
"""A test server for tests/incoming: answers WORD to every request, prints
one line per request ("METHOD PATH"), sleeps 60 s on /hang.
   server.py PORT WORD"""
import http.server
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        print(self.command, self.path, flush=True)
        if self.path == "/hang":
            time.sleep(60)
        body = (sys.argv[2] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
