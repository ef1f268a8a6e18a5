# A raw TCP server that answers nothing and prints, when a connection ends,
# every byte it received on it as one JSON string (a mirror's copy of the
# client's bytes, to compare byte for byte with what the client sent).
# With --accepts, "accepted" is printed as each connection is accepted
# instead (a filter's leak check: no connection may reach the program).
#   dump.py [--accepts] PORT
import json
import socket
import sys
import threading

ACCEPTS = sys.argv[1] == "--accepts"
PORT = int(sys.argv[-1])
lock = threading.Lock()


def serve(c):
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.close()
    if not ACCEPTS:
        with lock:
            sys.stdout.write(json.dumps(data.decode("latin-1")) + "\n")
            sys.stdout.flush()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT))
s.listen(64)
while True:
    c, _ = s.accept()
    if ACCEPTS:
        with lock:
            sys.stdout.write("accepted\n")
            sys.stdout.flush()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
