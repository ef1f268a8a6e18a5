# Sourced by the end-to-end scripts after compare.sh: the leak check.
# Needs work, local_ (compare.sh), pass and fail, and strace.
# no_leak LABEL NEED_RELAY CMD...: runs CMD under the layer inside strace (the layer is
# in the traced program) and fails on any connect/sendto/sendmsg/sendmmsg
# that names a non-loopback address (every remote connection goes to a
# relay on 127.0.0.1) or port 53 (the host's resolver; relays never use
# it).  The run must succeed, and TCP clients must have used a relay.
no_leak() {
  local label=$1 need_relay=$2
  shift 2
  local trace=$work/strace.out
  rm -f "$trace"
  local_ strace -f -qq -o "$trace" -e trace=connect,sendto,sendmsg,sendmmsg "$@"
  if [ "$lrc" -ne 0 ] || [ ! -s "$trace" ]; then
    fail "$label: the traced run failed (status $lrc)" "$work/l.out" "$work/l.err" "$trace"
    return
  fi
  /usr/bin/python3 - "$trace" "$need_relay" > "$work/leaks" <<'PY'
import re, sys
trace, need_relay = sys.argv[1], sys.argv[2] == 1 or sys.argv[2] == '1'
addr_re = re.compile(
    r'sa_family=(AF_INET6?)\s*,\s*sin6?_port=htons\((\d+)\)[^}]*?'
    r'(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6,\s*"([^"]+)")')
bad, relays = [], 0
for line in open(trace):
    if not re.search(r'\b(connect|sendto|sendmsg|sendmmsg)\(', line):
        continue
    for fam, port, a4, a6 in addr_re.findall(line):
        a = a4 or a6
        loop = a.startswith('127.') or a == '::1' or a.startswith('::ffff:127.')
        if int(port) == 53 or not loop:
            bad.append(line.rstrip())
        elif line.split()[1].startswith('connect('):
            relays += 1
for b in bad:
    print('LEAK:', b)
if need_relay and relays == 0:
    print('no connect to a loopback relay at all: did the program reach the service?')
sys.exit(1 if bad or (need_relay and relays == 0) else 0)
PY
  if [ $? -eq 0 ]; then
    pass "$label: no leaked query or connection"
  else
    fail "$label" "$work/leaks" "$work/l.out"
  fi
}
