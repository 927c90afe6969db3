#!/bin/sh
# tests/conformance-server driven by an outside client (Python's socket
# module): pathname and abstract addresses, with and without --ancillary,
# then SIGTERM: exit 0 and the socket file removed; its stdout is the ready
# line alone, every log record on stderr.  Bounded by timeouts.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed"; exit 77
fi
tmp=$(mktemp -d /tmp/udgc-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

run_case () {
  where=$1; shift
  out="$tmp/out"; err="$tmp/err"
  rm -f "$out" "$err"
  G_MESSAGES_DEBUG=all timeout --foreground 60 "$builddir/tests/conformance-server" "$@" "$where" >"$out" 2>"$err" &
  pid=$!
  i=0
  while ! grep -q '^ready ' "$out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 500 ] || ! kill -0 $pid 2>/dev/null; then
      echo "FAIL: server did not start ($*)"; cat "$err"; fail=1; kill $pid 2>/dev/null; return
    fi
    sleep 0.01
  done
  addr=$(sed -n 's/^ready //p' "$out")
  anc=
  case " $* " in *" --ancillary "*) anc=--ancillary ;; esac
  if ! timeout 30 python3 "$srcdir/tests/conformance-client.py" "$addr" $anc; then
    echo "FAIL: client against $addr ($*)"; cat "$err"; fail=1
  fi
  kill -TERM $pid
  i=0
  while kill -0 $pid 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.01
  done
  if kill -0 $pid 2>/dev/null; then
    echo "FAIL: server still running 3 s after SIGTERM"; kill -KILL $pid; fail=1
  fi
  wait $pid; rc=$?
  [ $rc -eq 0 ] || { echo "FAIL: server exited $rc after SIGTERM"; cat "$err"; fail=1; }
  case "$where" in
    /*) [ -e "$where" ] && { echo "FAIL: $where left behind"; fail=1; } ;;
  esac
  # stdout is the ready line and nothing else, with records of every level
  # on stderr (G_MESSAGES_DEBUG=all).
  lines=$(wc -l <"$out")
  [ "$lines" = 1 ] || { echo "FAIL: $lines lines on stdout, the ready line alone expected:"; cat "$out"; fail=1; }
  for level in DEBUG INFO WARNING CRITICAL; do
    grep -q "udgram-$level" "$err" || { echo "FAIL: no $level record on stderr"; fail=1; }
  done
  echo "ok: conformance-server $* $where"
}

run_case "$tmp/s.sock"
run_case "$tmp/s.sock" --ancillary
run_case "@udgram-conformance-$$"
run_case "" --ancillary
exit $fail
