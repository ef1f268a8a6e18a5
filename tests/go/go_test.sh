#!/usr/bin/env bash
# Go programs (tests/go/prog, built by build.sh with every toolchain of
# ci/go-toolchains, cgo on, PIE or not, stripped or not) run with `harness
# exec` against the gocore target and with `runc exec` inside it: stdout
# and exit status must match.
#   go_test.sh HARNESS_BIN SRCDIR MANIFEST GROUP [PRELOAD]
# GROUP: setup (harness up, binaries staged at the same path locally and in
# the target), cleanup (harness down), trampoline (no target: the
# trampolines with a test handler, PRELOAD = tramp_preload.so), or a check
# group.  Every check of a group runs; the group fails if one does.
set -uo pipefail
harness=$1 src=$2 manifest=$3 group=$4 preload=${5:-}
name=gocore
ctr=shunt-$name-target
stage_dir=/tmp/shunt-gocore-progs
failed=0 passed=0

[ -s "$manifest" ] || { echo "FAIL: no manifest $manifest (go.build)"; exit 1; }
work=$(mktemp -d /tmp/shunt-go-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$src/../lib/compare.sh"
. "$src/../lib/leaks.sh"

# Every gotest build, as staged: "VERSION VARIANT PATH".
progs() { awk -v d="$stage_dir" '$1 == "gotest" {print $2, $3, d "/" $2 "/" $3}' "$manifest"; }

if [ "$group" = trampoline ]; then
  while read -r kind ver variant bin <&3; do
    [ "$kind" = tramp ] || continue
    for i in 1 2 3 4 5; do
      out=$(timeout 120 env GOTRAMP_TEST=1 LD_PRELOAD="$preload" "$bin" 2>&1)
      rc=$?
      if [ $rc -ne 0 ] || [ "$out" != ok ]; then
        echo "$out" > "$work/out"
        fail "trampoline $ver $variant run $i: status $rc" "$work/out"
        continue 2
      fi
    done
    pass "trampoline $ver $variant (5 runs)"
  done 3< "$manifest"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit
fi

if [ "$(id -u)" -ne 0 ] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi

# expect_local LABEL STATUS STDOUT CMD...
expect_local() {
  local label=$1 want_rc=$2 want_out=$3
  shift 3
  local_ "$@"
  printf '%s\n' "$want_out" > "$work/want"
  printf '%s\n' "$(cat "$work/l.out")" > "$work/got"
  if [ "$lrc" -eq "$want_rc" ] && cmp -s "$work/want" "$work/got"; then
    pass "$label"
  else
    diff -u "$work/want" "$work/got" > "$work/diff" 2>&1
    fail "$label: status $lrc (want $want_rc)" "$work/diff" "$work/l.err"
  fi
}

case "$group" in
setup)
  if [ -e /srv/gt ] || [ -e /etc/gt-only.conf ]; then
    echo "FAIL: /srv/gt or /etc/gt-only.conf exists on this host: the checks would prove nothing"
    exit 1
  fi
  "$harness" down "$name" >/dev/null 2>&1
  "$harness" up "$src/gotest.yaml" || { echo "FAIL: harness up"; exit 1; }
  rm -rf "$stage_dir"
  runc exec "$ctr" rm -rf "$stage_dir"
  while read -r kind ver variant bin; do
    [ "$kind" = gotest ] || continue
    mkdir -p "$stage_dir/$ver"
    cp "$bin" "$stage_dir/$ver/$variant"
    runc exec "$ctr" sh -c "mkdir -p $stage_dir/$ver && cat > $stage_dir/$ver/$variant && chmod 755 $stage_dir/$ver/$variant" \
      < "$bin" || { echo "FAIL: staging $bin in the target"; exit 1; }
  done < "$manifest"
  echo "target $name is up; programs in $stage_dir"
  exit 0
  ;;
cleanup)
  rm -rf "$stage_dir"
  "$harness" down "$name"
  exit 0
  ;;
files)
  printf 'layer:\n  files:\n    not_found: ["^/srv/gt/a/b(/|$)"]\n' > "$work/hidden.yaml"
  while read -r ver variant p <&3; do
    compare "$ver $variant: os.ReadFile" "$p" read /srv/gt/README.txt
    compare "$ver $variant: os.ReadFile of a target-only /etc file" "$p" read /etc/gt-only.conf
    compare "$ver $variant: os.ReadDir" "$p" readdir /srv/gt/a
    compare "$ver $variant: os.ReadDir of the top" "$p" readdir /srv/gt
    # a not_found path is in no listing (Go's getdents64 through the hooks)
    config=$work/hidden.yaml
    expect_local "$ver $variant: os.ReadDir leaves a not_found entry out" 0 \
      "c.txt dir=false mode=-rw-r--r-- size=2" "$p" readdir /srv/gt/a
    config=
    compare "$ver $variant: os.Stat" "$p" stat /srv/gt/README.txt /srv/gt/a /srv/gt/a/b/deep.txt /nonexistent /srv/gt/nope
  done 3< <(progs)
  ;;
write)
  printf 'layer:\n  files:\n    read_write: ["^/srv/gt/rw(/.*)?$"]\n' > "$work/rw.yaml"
  while read -r ver variant p <&3; do
    config=$work/rw.yaml
    compare "$ver $variant: os.WriteFile, append, rename, mkdir, remove, os.Link, syscall.Mkfifo, os.Chown (write mode)" \
      "$p" write /srv/gt/rw/new-$variant.txt "written by $ver"
    config=
  done 3< <(progs)
  ;;
cwd)
  while read -r ver variant p <&3; do
    compare "$ver $variant: os.Chdir, os.Getwd, relative paths, File.Chdir" \
      "$p" cwd /srv/gt /srv/gt/a /srv/gt/nope /srv/gt/README.txt
  done 3< <(progs)
  ;;
env)
  while read -r ver variant p <&3; do
    compare "$ver $variant: os.Getenv (the target's environment)" "$p" env GO_MODE GO_GREETING
  done 3< <(progs)
  ;;
dns)
  hosts="api.cluster dns-only.cluster only-in-target.example nonexistent.invalid"
  while read -r ver variant p <&3; do
    compare "$ver $variant: net.LookupHost, pure Go resolver" "$p" lookup go $hosts
    grep -q "Go.s resolver\|Go resolver" "$work/l.err" ||
      fail "$ver $variant: the pure Go resolver was not the one used" "$work/l.err"
    compare "$ver $variant: net.LookupHost, cgo resolver" "$p" lookup cgo $hosts
    grep -q "cgo" "$work/l.err" ||
      fail "$ver $variant: the cgo resolver was not the one used" "$work/l.err"
  done 3< <(progs)
  ;;
http)
  while read -r ver variant p <&3; do
    compare "$ver $variant: net/http GET of a cluster service" "$p" http http://api.cluster:8080/hello.txt
  done 3< <(progs)
  ;;
exec)
  while read -r ver variant p <&3; do
    compare "$ver $variant: os/exec child reading a target file" "$p" exec /bin/cat /srv/gt/README.txt
    compare "$ver $variant: os/exec child with the target's environment" "$p" exec /bin/sh -c 'echo "$GO_MODE"'
  done 3< <(progs)
  ;;
static)
  while read -r kind ver bin <&3; do
    [ "$kind" = static ] || continue
    # --engine layer refuses it; the default (auto) runs it under the
    # supervisor, where it reads the target's file (docs/supervisor.md)
    engine=layer local_ "$bin" read /srv/gt/README.txt
    if [ "$lrc" -eq 126 ] && grep -q "statically linked" "$work/l.err"; then
      pass "$ver static binary refused by --engine layer (status 126)"
    else
      fail "$ver static binary, --engine layer: status $lrc, want 126 and a message" "$work/l.out" "$work/l.err"
    fi
    remote cat /srv/gt/README.txt
    local_ "$bin" read /srv/gt/README.txt
    if [ "$lrc" -eq 0 ] && [ "$(tail -n +2 "$work/l.out")" = "$(cat "$work/r.out")" ] &&
       [ -s "$work/r.out" ]; then
      pass "$ver static binary reads the target's file under the supervisor"
    else
      fail "$ver static binary under the supervisor: status $lrc" "$work/l.out" "$work/l.err"
    fi
  done 3< "$manifest"
  ;;
leaks)
  # strace of the local runs: every connection and query went to a
  # loopback relay, none to the target's addresses or to a port 53.
  while read -r ver variant p <&3; do
    no_leak "$ver $variant: net/http GET" 1 "$p" http http://api.cluster:8080/hello.txt
    no_leak "$ver $variant: pure Go resolver" 1 "$p" lookup go api.cluster dns-only.cluster
    no_leak "$ver $variant: cgo resolver" 0 "$p" lookup cgo api.cluster dns-only.cluster
  done 3< <(progs)
  ;;
unhooked)
  # A PIE without cgo is dynamic, but Go runs its threads on its own TLS,
  # where the layer cannot run.  It is never left unhooked under harness
  # exec: --engine auto sends it to the supervisor, and the layer, loaded
  # into it under --engine layer, execs it again under the supervisor
  # (docs/go.md).  Either way it sees the target's file, and no "not
  # intercepted" notice is printed.
  while read -r kind ver bin <&3; do
    [ "$kind" = nocgo ] || continue
    for eng in auto layer; do
      (cd /tmp && timeout 120 "$harness" exec --engine "$eng" --target "$name" -- \
        "$bin" stat /srv/gt/README.txt /tmp) >"$work/l.out" 2>"$work/l.err"
      lrc=$?
      n=$(grep -c "^shunt: not intercepted: " "$work/l.err")
      if [ "$lrc" -eq 0 ] && [ "$n" -eq 0 ] && grep -q "^/srv/gt/README.txt: " "$work/l.out" &&
        ! grep -q "^/srv/gt/README.txt: .*no such file" "$work/l.out" &&
        grep -q "^/tmp: .*dir=true" "$work/l.out"; then
        pass "$ver PIE without cgo, --engine $eng: under the supervisor, the target's file"
      else
        fail "$ver PIE without cgo, --engine $eng: status $lrc, $n notice(s)" "$work/l.out" "$work/l.err"
      fi
    done
  done 3< "$manifest"
  ;;
stress)
  # ctest: 32 goroutines, 4 more runs per build.  The full count of issue 5
  # (200 goroutines, 50 runs per build) with SHUNT_GO_STRESS_FULL=1; either
  # count can be set with SHUNT_GO_STRESS_GOROUTINES / SHUNT_GO_STRESS_RUNS.
  if [ "${SHUNT_GO_STRESS_FULL:-0}" = 1 ]; then gs=200 runs=50; else gs=32 runs=4; fi
  gs=${SHUNT_GO_STRESS_GOROUTINES:-$gs} runs=${SHUNT_GO_STRESS_RUNS:-$runs}
  want="rounds=$((gs * 20)) bad=0"
  while read -r ver variant p <&3; do
    compare "$ver $variant: stress ($gs goroutines, GC looping)" "$p" stress 20 /srv/gt/README.txt api.cluster:8080 "$gs"
    ok=1
    for i in $(seq 1 "$runs"); do
      local_ "$p" stress 20 /srv/gt/README.txt api.cluster:8080 "$gs"
      if [ "$lrc" -ne 0 ] || [ "$(cat "$work/l.out")" != "$want" ]; then
        fail "$ver $variant: stress run $i: status $lrc" "$work/l.out" "$work/l.err"
        ok=0
        break
      fi
    done
    [ $ok = 1 ] && pass "$ver $variant: stress, $runs more runs"
  done 3< <(progs)
  ;;
*)
  echo "unknown group $group"
  exit 2
  ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
