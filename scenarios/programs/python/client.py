"""A Python client of cluster services: urllib over HTTP, a raw socket to
redis speaking RESP, getaddrinfo and gethostbyname, errors by name."""
import json
import socket
import urllib.error
import urllib.request

with open("/etc/app/config.json") as f:
    cfg = json.load(f)
print("config api:", cfg["api"])

for path in ["/hello.txt", "/missing"]:
    try:
        with urllib.request.urlopen(cfg["api"] + path, timeout=10) as r:
            print("GET", path, r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        print("GET", path, e.code)

host, port = cfg["redis"].split(":")
with socket.create_connection((host, int(port)), timeout=10) as s:
    print("redis peer port:", s.getpeername()[1])
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
    data = b""
    while data.count(b"\r\n") < 3:
        data += s.recv(100)
    print("redis replies:", data.decode().replace("\r\n", "|"))

print("gethostbyname_ex api:", socket.gethostbyname_ex("api")[0])
print("getaddrinfo redis.cluster:", len(socket.getaddrinfo("redis.cluster", 6379, socket.AF_INET, socket.SOCK_STREAM)))
try:
    socket.getaddrinfo("nope.cluster", 80)
except socket.gaierror as e:
    print("gaierror:", e.args[0] == socket.EAI_NONAME)
try:
    socket.create_connection(("api.cluster", 9), timeout=5)
except OSError as e:
    print("connect port 9:", type(e).__name__)
print("hostname:", socket.gethostname())
