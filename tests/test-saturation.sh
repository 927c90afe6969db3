#!/bin/sh
# No local peer can take the service down by waiting: 5000 sessions of one
# uid wait in udg_client_recv() with no timeout (tests/waiting-sessions.py
# against tests/conformance-server), more than the pool's max_threads; a
# new client of the same uid and one of another uid (nobody, when run as
# root) are answered all the same: the server ends the longest waits of
# the uid that holds the most.  With the default max_threads (4096) and
# with 64.  Under a sanitizer, fewer sessions (600; TSan and ASan keep
# a shadow per thread) and the time bounds are not judged.  Every wait is
# bounded.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed"; exit 77
fi
tmp=$(mktemp -d /tmp/udgsat-XXXXXX)
chmod 755 "$tmp"
pids=
cleanup () { for p in $pids; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
. "${srcdir}/tests/wait-exit.sh"

run () {
  max=$1; sessions=$2
  sock="$tmp/s$max.sock"; err="$tmp/s$max.err"
  "$builddir/tests/conformance-server" --no-record --mode=0666 ${max:+--max-threads=$max} "$sock" \
    >"$tmp/s$max.out" 2>"$err" &
  pid=$!; pids="$pids $pid"
  i=0
  while ! grep -q '^ready' "$tmp/s$max.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 1000 ] && { cat "$err"; echo "FAIL: the server did not start"; fail=1; return; }
    sleep 0.01
  done
  timeout 180 python3 "$srcdir/tests/waiting-sessions.py" "$sock" $pid "$err" $sessions "${max:-4096}" || fail=1
  kill -TERM $pid; wait_exit $pid 30
  [ "$status" = 0 ] || { echo "FAIL: the server exited $status"; tail -5 "$err"; fail=1; }
  ended=$(sed -n 's/.* \([0-9]*\) waits ended.*/\1/p' "$err" | tail -1)
  [ "${ended:-0}" -gt 0 ] || { echo "FAIL: no wait counted as ended"; tail -3 "$err"; fail=1; }
  grep -q "udgram-WARNING.*uid [0-9]* holds" "$err" || { echo "FAIL: no WARNING names the uid"; fail=1; }
  echo "ok: max_threads ${max:-4096 (default)}: $ended waits ended under pressure"
}

if [ "${SANITIZER:-no}" = no ]; then
  run "" 5000
  run 64 5000
else
  run 512 600
  run 64 600
fi
exit $fail
