#!/bin/sh
# The two example daemons against the real clients: systemd-notify against
# notify-monitor (it must return at once: the BARRIER fd is closed), and
# logger against syslog-sink.  Each step is bounded.
set -u
builddir=${top_builddir:-.}
tmp=$(mktemp -d /tmp/udgd-XXXXXX)
pids=
cleanup () { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail () { echo "FAIL: $*"; exit 1; }

# Waits for $2 in the file $1, at most $3 hundredths of a second (3 s).
wait_for () {
  file=$1; pattern=$2; ticks=${3:-300}
  i=0
  while ! grep -q -- "$pattern" "$file" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $ticks ] && { cat "$file"; fail "'$pattern' did not appear in $file"; }
    sleep 0.01
  done
}
. "${top_srcdir:-.}/tests/wait-exit.sh"

# --- notify-monitor + systemd-notify ------------------------------------------------
if command -v systemd-notify >/dev/null 2>&1; then
  timeout --foreground 60 "$builddir/examples/notify-monitor" "$tmp/notify.sock" >"$tmp/notify.out" 2>&1 &
  monitor=$!; pids="$pids $monitor"
  wait_for "$tmp/notify.out" "listening"
  # systemd-notify reports its parent as the sender (the service's shell):
  # run it from a shell whose pid we know.
  start=$(date +%s%N)
  NOTIFY_SOCKET="$tmp/notify.sock" timeout 10 sh -c 'echo $$ >"$1"; systemd-notify --ready --status="warming up"' \
    sh "$tmp/shell.pid" || fail "systemd-notify failed ($?)"
  took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $took_ms -lt 1000 ] || fail "systemd-notify took ${took_ms} ms: the BARRIER fd was held"
  shell_pid=$(cat "$tmp/shell.pid")
  wait_for "$tmp/notify.out" "pid $shell_pid uid $(id -u): READY=1"
  wait_for "$tmp/notify.out" "pid $shell_pid uid $(id -u): STATUS=warming up"
  echo "ok: systemd-notify --ready returned in ${took_ms} ms; READY=1 from pid $shell_pid"
  NOTIFY_SOCKET="$tmp/notify.sock" timeout 10 systemd-notify --no-block STOPPING=1 "X_CUSTOM=1" || fail "systemd-notify STOPPING"
  wait_for "$tmp/notify.out" "STOPPING=1"
  wait_for "$tmp/notify.out" "X_CUSTOM=1 (unknown key)"
  kill -TERM $monitor; wait $monitor || fail "notify-monitor exited $? on SIGTERM"
  [ ! -e "$tmp/notify.sock" ] || fail "notify-monitor left its socket"
  echo "ok: notify-monitor"
else
  echo "SKIP: systemd-notify is not installed"
fi

# --- udgram serve started by systemd (Type=notify, WatchdogSec=) --------------------
# notify-monitor is the service manager's end; no systemd needed.
timeout --foreground 60 "$builddir/examples/notify-monitor" "$tmp/notify2.sock" >"$tmp/notify2.out" 2>&1 &
monitor2=$!; pids="$pids $monitor2"
wait_for "$tmp/notify2.out" "listening"
# udgram serve as a Type=notify service with a watchdog: READY=1 once the
# socket exists and SIGTERM is handled, STATUS=, WATCHDOG=1, STOPPING=1.
NOTIFY_SOCKET="$tmp/notify2.sock" WATCHDOG_USEC=200000 "$builddir/tools/udgram" serve "$tmp/notified.sock" \
  >"$tmp/notified.out" 2>&1 &
served=$!; pids="$pids $served"
wait_for "$tmp/notify2.out" "pid $served uid $(id -u): READY=1"
[ -S "$tmp/notified.sock" ] || fail "READY=1 before the socket exists"
wait_for "$tmp/notify2.out" "pid $served uid $(id -u): STATUS=Serving at $tmp/notified.sock"
wait_for "$tmp/notify2.out" "pid $served uid $(id -u): WATCHDOG=1"
got=$(timeout 10 "$builddir/tools/udgram" send "$tmp/notified.sock" ping) || fail "send to the notifying server"
[ "$got" = ping ] || fail "the notifying server answered '$got'"
wait_for "$tmp/notify2.out" "pid $served uid $(id -u): STATUS=.*datagrams received" 1000
kill -TERM $served; wait_exit $served 10; [ "$status" = 0 ] || fail "udgram serve exited $status on SIGTERM"
wait_for "$tmp/notify2.out" "pid $served uid $(id -u): STOPPING=1"
echo "ok: udgram serve under NOTIFY_SOCKET: READY=1 after its socket, STATUS=, WATCHDOG=1, STOPPING=1"
kill -TERM $monitor2; wait $monitor2 || fail "notify-monitor exited $? on SIGTERM"

# --- syslog-sink + logger -----------------------------------------------------------
if command -v logger >/dev/null 2>&1; then
  timeout --foreground 60 "$builddir/examples/syslog-sink" "$tmp/log.sock" >"$tmp/log.out" 2>&1 &
  sink=$!; pids="$pids $sink"
  wait_for "$tmp/log.out" "listening"
  timeout 10 logger -u "$tmp/log.sock" -d -t mytag hello || fail "logger"
  wait_for "$tmp/log.out" "facility=user severity=notice tag=mytag pid=[0-9]* uid=$(id -u): hello"
  timeout 10 logger -u "$tmp/log.sock" -d --rfc5424 -p local0.err -t app5424 "new format" || fail "logger --rfc5424"
  wait_for "$tmp/log.out" "facility=local0 severity=err tag=app5424 .*: new format"
  printf '\377\376garbage' | timeout 10 python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(sys.stdin.buffer.read(), sys.argv[1])
s.sendto(b'', sys.argv[1]); s.sendto(b'<999>x', sys.argv[1])" "$tmp/log.sock" || fail "garbage sender"
wait_for "$tmp/log.out" "unparsed (pid=[0-9]* uid=[0-9]*, 9 bytes)"
  timeout 10 logger -u "$tmp/log.sock" -d -t after still-alive || fail "logger after garbage"
  wait_for "$tmp/log.out" "tag=after .*: still-alive"
  [ "$(stat -c %a "$tmp/log.sock")" = 666 ] || fail "syslog-sink socket mode"
  kill -TERM $sink; wait $sink || fail "syslog-sink exited $? on SIGTERM"
  echo "ok: syslog-sink prints logger's messages and survives garbage"
else
  echo "SKIP: logger is not installed"
fi
