#!/bin/sh
# Runs every libFuzzer target of a --enable-fuzzing build for a bounded
# time each (FUZZ_SECONDS, 30 by default) on a copy of its seeds, and prints
# the executions per second.  Exits non-zero on the first crash, leak or
# timeout found (the reproducer is left in the current directory).
#   tests/fuzz/run-fuzzers.sh BUILDDIR [TARGET...]
set -u
builddir=${1:?usage: run-fuzzers.sh BUILDDIR [TARGET...]}
shift
srcdir=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-30}
targets=${*:-"json variant line base64 base64-plain zlib bz2 zstd lz4 msgpack cbor ancillary sock-diag"}
work=$(mktemp -d /tmp/udgf-XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for t in $targets; do
  prog="$builddir/tests/fuzz/fuzz-$t"
  [ -x "$prog" ] || { echo "fuzz-$t: not built"; status=1; continue; }
  mkdir -p "$work/$t"
  [ -d "$srcdir/seeds/$t" ] && cp "$srcdir/seeds/$t"/* "$work/$t"/ 2>/dev/null
  if "$prog" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -max_len=70000 \
       -print_final_stats=1 "$work/$t" >"$work/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
    echo "fuzz-$t: ok, $runs inputs in ${seconds} s ($rate exec/s), corpus $(ls "$work/$t" | wc -l)"
  else
    echo "fuzz-$t: FAILED"; tail -40 "$work/$t.log"; status=1
  fi
done
exit $status
