#!/bin/sh
# The udgram tool through real sockets: serve + send, interoperating with
# socat and Python's socket module, listen with logger, exit codes, the
# composed protocols against a standard-library Python peer, and the demo.
# Every wait is bounded.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
udgram="$builddir/tools/udgram"
tmp=$(mktemp -d /tmp/udgt-XXXXXX)
pids=
cleanup () { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail () { echo "FAIL: $*"; exit 1; }

# Starts a background command whose stdout gets a line matching $2.
start_bg () {
  out=$1; pattern=$2; shift 2
  # A file left by an earlier round may still hold the pattern while the
  # new process has not yet truncated it: remove it first.
  rm -f "$out" "$out.err"
  "$@" >"$out" 2>"$out.err" &
  pid=$!; pids="$pids $pid"
  i=0
  while ! grep -q "$pattern" "$out" "$out.err" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && { cat "$out.err"; fail "$* did not start"; }
    kill -0 $pid 2>/dev/null || { cat "$out.err"; fail "$* exited"; }
    sleep 0.01
  done
}

# --- help and exit codes ----------------------------------------------------------
"$udgram" --help >/dev/null || fail "--help"
for c in serve send listen demo; do
  "$udgram" $c --help >/dev/null || fail "$c --help"
done
"$udgram" nosuch 2>/dev/null; [ $? -eq 2 ] || fail "unknown command is not exit 2"
"$udgram" send 2>/dev/null; [ $? -eq 2 ] || fail "send without arguments is not exit 2"
"$udgram" send "$tmp/nobody.sock" hi 2>"$tmp/err"; [ $? -eq 1 ] || fail "send to nobody is not exit 1"
# One timeout convention: seconds, inf for ever; NaN and negative are usage errors.
for bad in nan -1 -0.5; do
  "$udgram" send --timeout=$bad "$tmp/nobody.sock" hi 2>/dev/null; [ $? -eq 2 ] || fail "send --timeout=$bad is not exit 2"
done
grep -q "cannot reach" "$tmp/err" || fail "no clear message for a missing server"
echo "ok: help and exit codes"

# --- serve + send ------------------------------------------------------------------
sock="$tmp/up.sock"
start_bg "$tmp/serve.out" "serving at" timeout 60 "$udgram" serve --upper --mode=0600 "$sock"
serve_pid=$pid
[ "$(stat -c %a "$sock")" = 600 ] || fail "--mode=0600 gave $(stat -c %a "$sock")"
got=$(timeout 10 "$udgram" send "$sock" hello "two words") || fail "send exited $?"
[ "$got" = "$(printf 'HELLO\nTWO WORDS')" ] || fail "send printed '$got'"
echo "ok: serve --upper + send"

# socat as the client.
if command -v socat >/dev/null 2>&1; then
  got=$(echo hi | timeout 10 socat -t 1 - "UNIX-SENDTO:$sock,bind=$tmp/socat.sock")
  [ "$got" = "HI" ] || fail "socat got '$got'"
  echo "ok: socat client"
else
  echo "SKIP: socat is not installed"
fi
# Python's socket module as the client.
got=$(timeout 10 python3 -c "
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.bind(''); c.settimeout(3)
c.sendto(b'from python', sys.argv[1]); print(c.recv(65536).decode())" "$sock") || fail "python client"
[ "$got" = "FROM PYTHON" ] || fail "python got '$got'"
echo "ok: python client"

# SIGINT: clean stop, statistics, socket file removed.
kill -INT $serve_pid
wait $serve_pid; rc=$?
[ $rc -eq 0 ] || fail "serve exited $rc on SIGINT"
grep -q "udgram: received 4, handled 4" "$tmp/serve.out" || { cat "$tmp/serve.out"; fail "no statistics"; }
[ ! -e "$sock" ] || fail "socket file left behind"
echo "ok: SIGINT stops serve cleanly"

# send against a Python server (socat would do too); and a timeout.
start_bg "$tmp/py.out" "ready" timeout 30 python3 -c "
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print('ready', flush=True)
data, addr = s.recvfrom(65536); s.sendto(b'python says ' + data, addr)
data, addr = s.recvfrom(65536)  # the second one gets no reply
os.unlink(sys.argv[1])" "$tmp/py.sock"
got=$(timeout 10 "$udgram" send "$tmp/py.sock" hi) || fail "send to python"
[ "$got" = "python says hi" ] || fail "python server reply '$got'"
timeout 10 "$udgram" send --timeout=0.3 "$tmp/py.sock" silence 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "no reply is not exit 1 ($rc)"
grep -q "no reply from" "$tmp/err" || fail "no clear timeout message"
echo "ok: send against a Python server, and its timeout"

# --- listen ------------------------------------------------------------------------
start_bg "$tmp/listen.out" "listening at" timeout 60 "$udgram" listen --credentials "$tmp/log.sock"
listen_pid=$pid
if command -v logger >/dev/null 2>&1; then
  logger -d -u "$tmp/log.sock" -t mytag "hello from logger" || fail "logger"
  i=0; while ! grep -q "mytag: hello from logger" "$tmp/listen.out"; do
    i=$((i + 1)); [ $i -gt 300 ] && { cat "$tmp/listen.out"; fail "listen did not print logger's message"; }; sleep 0.01; done
  grep "mytag: hello from logger" "$tmp/listen.out" | grep -q "from <unnamed>, .* uid $(id -u)" ||
    { cat "$tmp/listen.out"; fail "no sender credentials"; }
  echo "ok: listen --credentials prints logger's message"
else
  echo "SKIP: logger is not installed"
fi
timeout 10 "$udgram" send --no-reply --fd=/dev/null "$tmp/log.sock" "with a descriptor" || fail "send --fd"
i=0; while ! grep -q "1 descriptors (closed): with a descriptor" "$tmp/listen.out"; do
  i=$((i + 1)); [ $i -gt 300 ] && { cat "$tmp/listen.out"; fail "listen did not report the fd"; }; sleep 0.01; done
echo "ok: send --fd, listen closes it"
kill -TERM $listen_pid; wait $listen_pid

# With every log record turned on, stdout is still one JSON object a line:
# the records go to stderr.
start_bg "$tmp/json.out" "listening at" env G_MESSAGES_DEBUG=all timeout 60 "$udgram" listen --json "$tmp/json.sock"
json_pid=$pid
timeout 10 "$udgram" send --no-reply "$tmp/json.sock" 'a "quoted" line' || fail "send to listen --json"
i=0; while ! grep -q '"data":"a \\"quoted\\" line"' "$tmp/json.out"; do
  i=$((i + 1)); [ $i -gt 300 ] && { cat "$tmp/json.out"; fail "listen --json"; }; sleep 0.01; done
kill -TERM $json_pid; wait $json_pid
python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/json.out" || fail "listen --json is not JSON"
grep -q "udgram-INFO.*Start serving at" "$tmp/json.out.err" || fail "G_MESSAGES_DEBUG=all: no INFO record on stderr"
echo "ok: listen --json, with the log records on stderr"

# --- composed protocols against a standard-library Python peer --------------------
"$udgram" keygen >"$tmp/key" || fail "keygen"
[ "$(wc -c <"$tmp/key")" -eq 45 ] || fail "keygen printed $(wc -c <"$tmp/key") bytes"
start_bg "$tmp/stack.out" "serving at" timeout 60 "$udgram" serve --echo --protocol=json --compress=zlib \
  --base64 --key-file="$tmp/key" "$tmp/stack.sock"
stack_pid=$pid
timeout 30 python3 "$srcdir/tests/python-peer.py" client "$tmp/stack.sock" "$tmp/key" || fail "python peer against udgram serve"
kill -INT $stack_pid; wait $stack_pid
grep -q "bad datagram from" "$tmp/stack.out.err" || fail "forged datagrams were not reported"
echo "ok: udgram serve speaks base64(zlib(json)) with HMAC to a Python peer"

start_bg "$tmp/pys.out" "ready" timeout 30 python3 "$srcdir/tests/python-peer.py" server "$tmp/pys.sock" "$tmp/key"
got=$(timeout 10 "$udgram" send --protocol=json --compress=zlib --base64 --key-file="$tmp/key" "$tmp/pys.sock" \
  '{"a":[1,2],"b":"caf\u00e9"}' '"stop"') || fail "udgram send against the python server"
[ "$got" = "$(printf '{"a":[1,2],"b":"caf\303\251"}\n"stop"')" ] || fail "python server echoed '$got'"
echo "ok: udgram send speaks the same stack to a Python server"

printf 'short\n' >"$tmp/badkey"
"$udgram" send --base64 --key-file="$tmp/badkey" "$tmp/x.sock" m 2>"$tmp/err"; [ $? -eq 2 ] || fail "bad key is not exit 2"
grep -q "signing key must be 32" "$tmp/err" || fail "no clear message for a bad key"
echo "ok: a bad key file is refused at start"

# Paths of the full 108 bytes of sun_path, for serve, send and send --bind.
fill=$((108 - ${#tmp} - 1))
long_server="$tmp/$(printf '%*s' $fill '' | tr ' ' s)"
long_client="$tmp/$(printf '%*s' $fill '' | tr ' ' c)"
[ ${#long_server} = 108 ] || fail "the long path is ${#long_server} bytes"
start_bg "$tmp/long.out" "serving at" timeout 60 "$udgram" serve --upper "$long_server"
long_pid=$pid
got=$(timeout 10 "$udgram" send "$long_server" long) || fail "send to a 108-byte path exited $?"
[ "$got" = LONG ] || fail "send to a 108-byte path printed '$got'"
got=$(timeout 10 "$udgram" send --bind="$long_client" "$long_server" bound) || fail "send --bind to a 108-byte path exited $?"
[ "$got" = BOUND ] || fail "send --bind with a 108-byte path printed '$got'"
kill -INT $long_pid; wait $long_pid
echo "ok: serve, send and send --bind with 108-byte paths"

# "serving at" (and "listening at") come once the server serves: SIGTERM
# at once after the line is a clean stop, never the default action.
for round in 1 2 3 4 5; do
  start_bg "$tmp/quick.out" "serving at" "$udgram" serve "$tmp/quick.sock"
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 0 ] || fail "serve exited $rc on a SIGTERM right after its ready line (round $round)"
  [ ! -e "$tmp/quick.sock" ] || fail "serve left its socket after an early SIGTERM"
  start_bg "$tmp/quickl.out" "listening at" "$udgram" listen "$tmp/quickl.sock"
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 0 ] || fail "listen exited $rc on a SIGTERM right after its ready line (round $round)"
done
echo "ok: serve and listen handle SIGTERM from the moment they say where they serve"

# A connected peer that never reads: its replies are refused, counted in the
# statistics printed on SIGUSR1 and at exit, and the others are served.
# (No timeout(1) in front: it would not pass SIGUSR1 on.)
start_bg "$tmp/hog.out" "serving at" "$udgram" serve "$tmp/hog.sock"
hog_pid=$pid
# The hog stays (reading nothing) until its stdin closes.
mkfifo "$tmp/hog.hold"
timeout 60 python3 -c "
import socket, sys
h = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); h.bind(''); h.connect(sys.argv[1])
for i in range(30000): h.send(b'hog')
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.bind(''); c.settimeout(5)
for i in range(5):
    c.sendto(b'ping', sys.argv[1]); assert c.recv(100) == b'ping'
open(sys.argv[2], 'w').write('answered\n')
sys.stdin.read()" "$tmp/hog.sock" "$tmp/hog.answered" <"$tmp/hog.hold" &
hog_client=$!
exec 7>"$tmp/hog.hold"
i=0
while [ ! -s "$tmp/hog.answered" ]; do
  i=$((i + 1)); [ $i -gt 1000 ] && fail "not answered beside a hog"; sleep 0.01
done
# It is watched for the send timeout (1 s), then refused: SIGUSR1 until the
# statistics say so (10 s at most).
i=0
until grep -q "send errors [1-9][0-9]* ([1-9][0-9]* to peers not reading)" "$tmp/hog.out"; do
  i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/hog.out"; fail "SIGUSR1: no reply counted as refused to a peer not reading"; }
  kill -USR1 $hog_pid; sleep 0.1
done
exec 7>&-
wait $hog_client || fail "the hog's client failed"
kill -INT $hog_pid; wait $hog_pid; rc=$?
[ $rc -eq 0 ] || fail "serve exited $rc after the hog"
[ "$(grep -c "to peers not reading)" "$tmp/hog.out")" -ge 2 ] || { cat "$tmp/hog.out"; fail "no statistics at exit"; }
grep -q "does not read its replies" "$tmp/hog.out.err" || fail "no WARNING names the peer not reading"
[ "$(grep -c "cannot answer" "$tmp/hog.out.err")" -le 5 ] || fail "the refused replies flood standard error"
echo "ok: serve refuses replies to a peer that does not read, and counts them (SIGUSR1 and exit)"

# Every command's --help exits 0, and every option it lists is in udgram(1).
man="${top_srcdir:-.}/docs/udgram.1"
for sub in serve send listen demo keygen; do
  help=$("$udgram" $sub --help) || fail "udgram $sub --help exited $?"
  for opt in $(printf '%s\n' "$help" | grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' | tr -d ' ' | tr ',' ' '); do
    case $opt in -h|--help) continue ;; esac
    escaped=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q -- "$escaped" "$man" || fail "udgram $sub --help lists $opt, udgram(1) does not ($escaped)"
  done
done
for proto in msgpack cbor; do grep -q "^\.B $proto\$" "$man" || fail "udgram(1) does not name --protocol=$proto"; done
echo "ok: every command's --help exits 0 and its options are all in udgram(1)"

# listen prints every byte of a payload, escaped, a NUL included.
start_bg "$tmp/lb.out" "listening at" timeout 60 "$udgram" listen "$tmp/lb.sock"
lb_pid=$pid
timeout 10 python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"a\x00b\n\xe9\\z", sys.argv[1])' "$tmp/lb.sock"
i=0; while ! grep -q "7 bytes" "$tmp/lb.out"; do
  i=$((i + 1)); [ $i -gt 500 ] && { cat "$tmp/lb.out"; fail "listen printed nothing"; }; sleep 0.01; done
kill -INT $lb_pid; wait $lb_pid
grep -qF '7 bytes: a\000b\n\351\\z' "$tmp/lb.out" || { cat "$tmp/lb.out"; fail "listen did not print the whole payload escaped"; }
echo "ok: listen prints every byte of a payload, escaped, a NUL included"

# listen --json keeps a binary payload, base64-encoded, and says so.
start_bg "$tmp/lj.out" "listening\|serving\|at " timeout 60 "$udgram" listen --json "$tmp/lj.sock"
lj_pid=$pid
printf 'caf\351\000\001' | timeout 10 socat -u - "UNIX-SENDTO:$tmp/lj.sock" 2>/dev/null \
  || timeout 10 python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"caf\xe9\x00\x01", sys.argv[1])' "$tmp/lj.sock"
timeout 10 python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto("d\u00e9j\u00e0".encode(), sys.argv[1])' "$tmp/lj.sock"
i=0
while [ "$(grep -c '"encoding"' "$tmp/lj.out")" -lt 2 ]; do
  i=$((i + 1)); [ $i -gt 500 ] && { cat "$tmp/lj.out"; fail "listen --json printed nothing"; }; sleep 0.01
done
kill -INT $lj_pid; wait $lj_pid
grep -q '"encoding":"base64","data":"Y2Fm6QAB"' "$tmp/lj.out" || { cat "$tmp/lj.out"; fail "listen --json lost a binary payload"; }
grep -q '"encoding":"utf-8","data":"déjà"' "$tmp/lj.out" || { cat "$tmp/lj.out"; fail "listen --json did not print UTF-8 text as it is"; }
echo "ok: listen --json prints binary payloads in base64 and text as it is, each with its encoding"

# A --bind that cannot be bound says so, without blaming the server; serve's
# hint for a socket file in the way is the tool's option.
start_bg "$tmp/bb.out" "serving at" timeout 60 "$udgram" serve "$tmp/bb.sock"
bb_pid=$pid
err=$(timeout 10 "$udgram" send --bind="$tmp/no/such/dir/c.sock" "$tmp/bb.sock" hi 2>&1) && fail "send --bind to a missing directory succeeded"
case $err in
  *"bind on address '$tmp/no/such/dir/c.sock'"*) ;;
  *) fail "send --bind failure: '$err'" ;;
esac
case $err in *"cannot reach"*) fail "send --bind failure blames the server: '$err'" ;; esac
kill -INT $bb_pid; wait $bb_pid
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$tmp/stale.sock"
err=$(timeout 10 "$udgram" serve "$tmp/stale.sock" 2>&1) && fail "serve over a stale socket file succeeded"
case $err in
  *"--reuse-stale"*) ;;
  *) fail "serve over a stale socket file does not name --reuse-stale: '$err'" ;;
esac
case $err in *"udg_server_options"*) fail "the tool's hint names the C function: '$err'" ;; esac
echo "ok: send --bind and serve report their own bind failures, with the tool's remedy"

# --- demo --------------------------------------------------------------------------
timeout 30 "$udgram" demo >"$tmp/demo.out" || { cat "$tmp/demo.out"; fail "demo exited $?"; }
grep -q "got the second part: the second part" "$tmp/demo.out" || fail "demo transcript"
grep -q "received 1 file descriptor" "$tmp/demo.out" || fail "demo fd passing"
echo "ok: demo"
