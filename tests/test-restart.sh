#!/bin/sh
# Nothing lost across restarts: a stand-in for the service manager
# (tests/restart-under-load.py) restarts a server 8 times, a few hundred ms
# apart, while 32 clients keep requests in flight; with the socket held by
# the manager (socket activation) and with the fd store; udgram serve, and
# a handler that takes 1 ms a request (tests/conformance-server).  Every
# request answered once, none dropped at shutdown.  Run alone, every reply
# comes within 250 ms (the script's default bound); beside the other tests
# of make check, which share the two cores, within a second
# (RESTART_LATENCY_BOUND).  Every wait is bounded.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed"; exit 77
fi
bound=${RESTART_LATENCY_BOUND:-1.0}
fail=0
for mode in activation fdstore; do
  tmp=$(mktemp -d /tmp/udgrs-XXXXXX)
  timeout 120 python3 "$srcdir/tests/restart-under-load.py" $mode "$tmp/app.sock" --latency-bound=$bound -- \
    "$builddir/tools/udgram" serve --echo "$tmp/app.sock" || fail=1
  rm -rf "$tmp"
  tmp=$(mktemp -d /tmp/udgrs-XXXXXX)
  timeout 120 python3 "$srcdir/tests/restart-under-load.py" $mode "$tmp/app.sock" --window=4 --latency-bound=$bound -- \
    "$builddir/tests/conformance-server" --reply-delay=1 --no-record "$tmp/app.sock" || fail=1
  rm -rf "$tmp"
done
exit $fail
