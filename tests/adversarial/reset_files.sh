#!/usr/bin/env bash
# runs.reset_files must never remove a host file, nor one of the target's
# own outside target.files, through a link a target's program planted:
#  1. links inside a listed directory (to a host directory by absolute and
#     by relative path, to the target's /etc), a listed file replaced by a
#     link to a host directory, and listed links to a directory of the
#     target's /etc and to a host-looking path: every run still sees the
#     originals (the case passes), the host canaries and the target's /etc
#     stay;
#  2. a listed path's directory replaced by a link to a host directory
#     holding the same names: the reset refuses (a link is in the way) and
#     the host files stay.
# Usage: reset_files.sh HARNESS.  Needs root and runc (77).
set -uo pipefail
harness=$1
[ "$(id -u)" = 0 ] && command -v runc >/dev/null || { echo "needs root and runc"; exit 77; }
work=$(mktemp -d /tmp/shunt-adv-reset.XXXXXX)
trap '"$harness" down adv-reset >/dev/null 2>&1; "$harness" down adv-reset2 >/dev/null 2>&1; rm -rf "$work"' EXIT
export SHUNT_CACHE_DIR=$work/cache
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/  | /' "$2"; fails=$((fails+1)); }
host=$work/hostdir
mkdir -p "$host/dir" "$host/sub"
echo "HOST-CANARY" > "$host/dir/f"
echo "HOST-CANARY" > "$host/sub/x"
echo "HOST-CANARY" > "$host/link"
canaries_ok() {
  [ "$(cat "$host/dir/f" "$host/sub/x" "$host/link" 2>/dev/null)" = "$(printf 'HOST-CANARY\nHOST-CANARY\nHOST-CANARY')" ]
}

# ---- 1. links planted inside and in place of listed paths -----------------
cat > "$work/inside.yaml" <<Y
target:
  name: adv-reset
  files:
    - {path: /srv/adv/dir, dir: true}
    - {path: /srv/adv/dir/f, content: "orig\n"}
    - {path: /srv/adv/link, content: "orig link\n"}
    - {path: /srv/adv/etcdir, dir: true}
    - {path: /srv/adv/etclink, symlink: /etc/advcanary}
    - {path: /srv/adv/hostlink, symlink: $host}
  setup: ["mkdir -p /etc/advcanary && echo target-etc > /etc/advcanary/f"]
layer:
  files:
    read_write: ["^/srv/adv(/|$)"]
program:
  language: command
  args:
    - /bin/sh
    - -c
    - |
      cat /srv/adv/dir/f /srv/adv/link /etc/advcanary/f /srv/adv/etclink/f; ls /srv/adv/dir /srv/adv/etcdir
      readlink /srv/adv/etclink /srv/adv/hostlink
      ln -s $host /srv/adv/dir/host
      ln -s ../../../../../../../../..$host /srv/adv/dir/rel
      ln -s $host/sub /srv/adv/dir/sub
      rm /srv/adv/link && ln -s $host /srv/adv/link
      ln -s /etc/advcanary /srv/adv/etcdir/etc
      echo planted
runs: {repeat: 2, reset_files: true}
Y
"$harness" run --no-color "$work/inside.yaml" > "$work/out1" 2>&1
grep -q '^\[1/1\] PASS' "$work/out1" && ok "every run saw the original files (links planted inside were removed, not followed)" ||
  bad "the case did not pass" "$work/out1"
canaries_ok && ok "the host files behind the planted links are still there" ||
  bad "a host file behind a planted link was removed" "$work/out1"

# ---- 2. a listed path's directory replaced by a link to the host ----------
cat > "$work/parent.yaml" <<Y
target:
  name: adv-reset2
  files:
    - {path: /srv/adv/dir, dir: true}
    - {path: /srv/adv/dir/f, content: "orig\n"}
program:
  language: command
  args: [/bin/sh, -c, "cat /srv/adv/dir/f; mv /srv/adv /srv/adv.old; ln -s $host /srv/adv; echo planted"]
runs: {repeat: 2, reset_files: true, local: false}
Y
"$harness" run --no-color "$work/parent.yaml" > "$work/out2" 2>&1
grep -q 'runs.reset_files: cannot remove /srv/adv/.* (a symbolic link is in the way)' "$work/out2" &&
  ok "the reset refuses a link among a listed path's directories" ||
  bad "no clear refusal of the planted link" "$work/out2"
canaries_ok && ok "the host files behind the directory link are still there" ||
  bad "a host file behind the directory link was removed or replaced" "$work/out2"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
