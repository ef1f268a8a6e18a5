# Python client for tests/net: urllib (getaddrinfo + connect), a raw socket
# with socket.create_connection, the resolver entry points and gethostname.
import socket
import sys
import urllib.error
import urllib.request

api = sys.argv[1] if len(sys.argv) > 1 else 'api.cluster'
with urllib.request.urlopen(f'http://{api}:8080/known.txt', timeout=10) as r:
    print(r.status, r.headers['Content-Length'])
    print(r.read().decode(), end='')
try:
    urllib.request.urlopen(f'http://{api}:8080/missing.txt', timeout=10)
except urllib.error.HTTPError as e:
    print('missing', e.code)
s = socket.create_connection(('redis.cluster', 6379), timeout=10)
print('peer', s.getpeername())
s.sendall(b'PING\r\nECHO hello-from-python\r\n')
data = b''
while data.count(b'\r\n') < 3:
    chunk = s.recv(100)
    if not chunk:
        break
    data += chunk
print(data)
s.close()
print('gethostbyname', socket.gethostbyname('dns-only.cluster'))
print('gethostbyname_ex', socket.gethostbyname_ex('api.cluster'))
print('getaddrinfo', sorted({ai[4] for ai in socket.getaddrinfo('redis', 6379, socket.AF_INET, socket.SOCK_STREAM)}))
print('hosts-only', socket.gethostbyname('only-in-target.example'))
try:
    socket.getaddrinfo('no-such-name.cluster', 80)
except socket.gaierror as e:
    print('gaierror', e.args[0])
try:
    socket.create_connection(('api.cluster', 9), timeout=10)
except OSError as e:
    print('refused', e.errno == 111)
print('gethostname', socket.gethostname())
