#!/usr/bin/env bash
# harness run end to end for what a first-time scenario writer needs: PWD in
# both runs, cases: lists, target files of every kind and setup:, signal and
# refusal expectations, --show-output, the target's /etc and its DNS.
# Usage: ux_test.sh HARNESS FIXTURES_DIR.  Needs root and runc (77).
set -uo pipefail
harness=$1
fx=$2/ux
[ "$(id -u)" = 0 ] && command -v runc >/dev/null || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-uxtest.XXXXXX)
targets="hux-pwd hux-cases hux-files hux-escape hux-status hux-unhooked hux-etc hux-dns"
trap 'for t in $targets; do "$harness" down $t >/dev/null 2>&1; done; rm -rf "$work"' EXIT
fails=0
check() { # NAME WANT_RC GOT_RC OUTFILE PATTERN...
  local name=$1 want=$2 got=$3 out=$4; shift 4
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
  fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$out"; then
      echo "FAIL $name: no line matches: $p"; sed 's/^/  | /' "$out"; fails=$((fails+1)); return
    fi
  done
  echo "ok   $name"
}
run() { "$harness" run --no-color "$@" > "$work/out" 2>&1; echo $?; }

cd "$work" || exit 1   # the harness's own directory is not the case's
rc=$(run "$fx/pwd.yaml")
check "PWD is the case's cwd in both runs" 0 "$rc" "$work/out" '^\[1/1\] PASS +pwd '

rc=$(run "$fx/cases.yaml")
check "cases: one target, each case its own result, a failure hides nothing" 1 "$rc" \
  "$work/out" '^\[1/4\] PASS +cases/cat ' '^\[2/4\] PASS +cases/env ' \
  '^\[3/4\] FAIL +cases/differs ' '^    -remote$' '^\[4/4\] PASS +cases/status ' \
  '^4 cases: 3 passed, 0 passed with known divergences, 1 failed'
[ "$(grep -c 'target 0\.00s' "$work/out")" -ge 3 ] && echo "ok   the target is up once" ||
  { echo "FAIL the target came up more than once"; sed 's/^/  | /' "$work/out"; fails=$((fails+1)); }
"$harness" status hux-cases > "$work/st" 2>&1
check "cases: the last case took the target down" 1 "$?" "$work/st" 'hux-cases: not up'

rc=$(run --only 'cases/e*' "$fx/cases.yaml")
check "cases: --only picks a case" 0 "$rc" "$work/out" '^\[1/1\] PASS +cases/env '

rc=$(run -j 2 --only '*/[eo]*' "$fx/cases.yaml" "$fx/cases2.yaml")
check "cases: -j 2, two files with one target name" 0 "$rc" "$work/out" \
  'PASS +cases/env ' 'PASS +cases2/one '

rc=$(run "$fx/files.yaml")
check "target.files of every kind, /tmp, from: a directory, setup:" 0 "$rc" "$work/out" \
  '^\[1/1\] PASS +files '

# A target is not trusted: a symlink planted in it never leads a write out
# of its root, onto this host.
mkdir -p "$work/host" "$work/hosttree/sub" && echo from-host > "$work/hosttree/sub/f" &&
  ln -s "$work/host" "$work/hosttree/up" && ln -s "$work/host/f" "$work/hosttree/f"
escape() { # NAME FILES-YAML: a target whose files must not reach $work/host
  { echo "target:"; echo "  name: hux-escape"; echo "  files:"; echo "$2"
    echo "program: {language: command, args: [/bin/true]}"; } > "$work/escape.yaml"
  rc=$(run "$work/escape.yaml")
  if [ -n "$(ls -A "$work/host")" ]; then
    echo "FAIL $1: a write reached the host: $(ls -A "$work/host")"; fails=$((fails+1))
  else
    check "$1" 1 "$rc" "$work/out" '^\[1/1\] ERROR +escape ' 'is a symlink or not a directory in the container \(never followed\)'
  fi
}
escape "a planted symlink dir does not redirect a write to the host" \
"    - {path: /srv/evil, symlink: $work/host}
    - {path: /srv/evil/pwned, content: x}"
escape "nor under the target's /tmp (written once it runs)" \
"    - {path: /tmp/evil, symlink: $work/host}
    - {path: /tmp/evil/pwned, content: x}"
escape "nor through a symlink inside a copied directory" \
"    - {path: /opt/t, from: $work/hosttree}
    - {path: /opt/t/up/pwned, content: x}"
{ echo "target: {name: hux-escape, files: [{path: /opt/t, from: $work/hosttree},"
  echo "  {path: /opt/t/f, content: mine}]}"
  echo "program: {language: command, args: [/bin/sh, -c, 'test ! -L /opt/t/f && cat /opt/t/f /opt/t/sub/f && readlink /opt/t/up']}"
  echo "runs: {local: false}"; } > "$work/escape.yaml"
rc=$(run "$work/escape.yaml")
check "a planted symlink as the file itself is replaced, not written through" 0 "$rc" \
  "$work/out" '^\[1/1\] PASS +escape '
[ -z "$(ls -A "$work/host")" ] && echo "ok   nothing reached the host" ||
  { echo "FAIL a write reached the host: $(ls -A "$work/host")"; fails=$((fails+1)); }

rc=$(run -v "$fx/status.yaml")
check "a signal status, an expected refusal, a fixed PATH, --show-output" 1 "$rc" "$work/out" \
  '^\[1/6\] PASS +status/abort ' '^\[2/6\] PASS +status/kill-shell ' \
  '^\[3/6\] PASS +status/static ' 'refused as expected \(expect.refused\): harness exec: refusing to run .*statically linked' \
  '^\[4/6\] FAIL +status/not-refused ' 'the local run was not refused \(expect.refused\): it ran, exit 0' \
  '^\[5/6\] FAIL +status/wrong-signal ' 'exit 137, expected killed by SIGABRT \(or exit 134\)' \
  '^\[6/6\] PASS +status/fixed-path ' '^        \| /usr/bin/python3$' \
  '^    reference run: exit 134$' '^        \| about to abort$'

if [ -x /sbin/ldconfig ] && ! readelf -lW /sbin/ldconfig 2>/dev/null | grep -q INTERP; then
  rc=$(run "$fx/unhooked.yaml")
  check "expect.unhooked: a program the layer cannot enter, expected or not" 1 "$rc" "$work/out" \
    '^\[1/4\] PASS +unhooked/static-child/go1\.26\.[0-9]+ ' \
    'left unhooked as expected \(expect.unhooked\): /sbin/ldconfig is a statically linked executable: .*os/exec child' \
    '^\[2/4\] FAIL +unhooked/hooked ' 'the local run was intercepted, but expect.unhooked says a program of it is left unhooked' \
    '^\[3/4\] FAIL +unhooked/wrong-notice/go1\.26\.[0-9]+ ' 'the local run was left unhooked, but not as expect.unhooked says: /sbin/ldconfig' \
    '^\[4/4\] ERROR +unhooked/plain/go1\.26\.[0-9]+ ' 'the local run under the layer was not intercepted: /sbin/ldconfig'
else
  echo "skip expect.unhooked: no static /sbin/ldconfig"
fi

# The target's /etc is the host's, minus what makes it the host; a
# scenario drops more or adds some back.  Java keeps its configuration in
# /etc/java-NN-openjdk: it runs in the target when this host has it.
sum() { md5sum < "$1" | cut -d' ' -f1; }
java_case=""
if command -v java >/dev/null && ls -d /etc/java-*-openjdk >/dev/null 2>&1; then
  # the JDK's lib/jvm.cfg and conf/*.properties are symlinks into /etc
  java_case="  - {name: java, command: [/bin/sh, -c, 'for f in /usr/lib/jvm/*/lib/jvm.cfg; do test -e \$f || { echo \$f dangles; exit 1; }; done; java -version'], expect: {stderr: true}}"
fi
cat > "$work/etc.yaml" <<YAML
target:
  name: hux-etc
  hostname: hux-etc-host
program: {language: command, cwd: /}
cases:
  - name: host-etc
    command:
      - /bin/sh
      - -c
      - |
        set -e
        test "\$(md5sum < /etc/login.defs | cut -d' ' -f1)" = $(sum /etc/login.defs)
        test "\$(md5sum < /etc/passwd | cut -d' ' -f1)" = $(sum /etc/passwd)
        test "\$(cat /etc/hostname)" = hux-etc-host
        for f in machine-id shadow gshadow ssl/private fstab; do
          test ! -e /etc/\$f || { echo "/etc/\$f is there"; exit 1; }
        done
        ls /etc/ssh/ssh_host_* 2>/dev/null && exit 1
        echo ok
    runs: {local: false}
${java_case}
YAML
rc=$(run "$work/etc.yaml")
check "the target's /etc is the host's without its identity and secrets" 0 "$rc" "$work/out" \
  'PASS +etc/host-etc '
[ -n "$java_case" ] && { grep -qE 'PASS +etc/java ' "$work/out" && echo "ok   java -version in the target" ||
  { echo "FAIL java -version"; sed 's/^/  | /' "$work/out"; fails=$((fails+1)); }; }
cat > "$work/etc2.yaml" <<YAML
target:
  name: hux-etc
  etc: {drop: [login.defs, "/etc/pam.d/common-*"], add: [machine-id]}
program:
  language: command
  args: [/bin/sh, -c, 'test ! -e /etc/login.defs && test ! -e /etc/pam.d/common-auth && test -e /etc/pam.d && test "\$(cat /etc/machine-id)" = $(cat /etc/machine-id 2>/dev/null || echo none)']
runs: {local: false}
YAML
rc=$(run "$work/etc2.yaml")
check "target.etc: drop and add" 0 "$rc" "$work/out" 'PASS +etc2 '

if command -v dig >/dev/null && command -v host >/dev/null && command -v nslookup >/dev/null; then
  rc=$(run -v "$fx/dns.yaml")
  check "the cluster DNS: NOERROR without data, not REFUSED; host and nslookup work" 0 "$rc" \
    "$work/out" '^\[1/1\] PASS +dns ' '\| api.cluster AAAA status: NOERROR$' \
    '\| api.cluster MX status: NOERROR$' '\| api.internal AAAA status: NOERROR$' \
    '\| other.example MX status: NOERROR$' '\| db.cluster AAAA status: NOERROR$' \
    '\| nope.cluster status: NXDOMAIN$' '\| api.cluster has address 10.200.N.10$' \
    '\| api.cluster has address 10.200.N.10$'
  grep -q REFUSED "$work/out" && { echo "FAIL the cluster DNS answered REFUSED"; fails=$((fails+1)); }
else
  echo "skip the cluster DNS test: no dig/host/nslookup (bind9-dnsutils)"
fi

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
