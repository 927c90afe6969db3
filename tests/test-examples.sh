#!/bin/sh
# The examples run and answer: the echo pair.
set -u
builddir=${top_builddir:-.}
tmp=$(mktemp -d /tmp/udge-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
timeout 30 "$builddir/examples/echo-server" "$tmp/echo.sock" >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while ! grep -q '^ready ' "$tmp/out" 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 500 ] && { echo "FAIL: echo-server did not start"; cat "$tmp/err"; exit 1; }
  sleep 0.01
done
got=$(timeout 10 "$builddir/examples/echo-client" "$tmp/echo.sock" hello "two words")
kill -INT $pid
wait $pid; rc=$?
expected=$(printf 'hello\ntwo words')
[ "$got" = "$expected" ] || { echo "FAIL: echo-client printed '$got'"; exit 1; }
[ $rc -eq 0 ] || { echo "FAIL: echo-server exited $rc"; exit 1; }
[ ! -e "$tmp/echo.sock" ] || { echo "FAIL: socket file left behind"; exit 1; }
echo "ok: echo pair"
