#!/bin/sh
# The examples run and answer: the echo pair.
set -u
builddir=${top_builddir:-.}
tmp=$(mktemp -d /tmp/udge-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The echo server with CLIENT (echo-client: POSIX sockets; endpoint-client:
# UdgEndpoint): both print the replies, the server stops cleanly on SIGINT.
# --foreground: timeout passes our signal to the server only; otherwise it
# sends it again to its process group, and a second SIGINT arriving after
# the server restored the default action kills it (exit 130).
echo_pair () {
  client=$1; sock="$tmp/$client.sock"
  timeout --foreground 30 "$builddir/examples/echo-server" "$sock" >"$tmp/$client.out" 2>"$tmp/$client.err" &
  pid=$!
  i=0
  while ! grep -q '^ready ' "$tmp/$client.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && { echo "FAIL: echo-server did not start"; cat "$tmp/$client.err"; exit 1; }
    sleep 0.01
  done
  got=$(timeout 10 "$builddir/examples/$client" "$sock" hello "two words")
  kill -INT $pid
  wait $pid; rc=$?
  expected=$(printf 'hello\ntwo words')
  [ "$got" = "$expected" ] || { echo "FAIL: $client printed '$got'"; exit 1; }
  [ $rc -eq 0 ] || { echo "FAIL: echo-server exited $rc"; exit 1; }
  [ ! -e "$sock" ] || { echo "FAIL: socket file left behind"; exit 1; }
  echo "ok: echo-server with $client"
}
echo_pair echo-client
echo_pair endpoint-client
timeout 10 "$builddir/examples/endpoint-client" "$tmp/nobody.sock" nobody 2>"$tmp/err3"; rc=$?
[ $rc -eq 1 ] && grep -q "endpoint-client: Unable to connect" "$tmp/err3" || { echo "FAIL: endpoint-client to nobody: $rc"; cat "$tmp/err3"; exit 1; }
echo "ok: endpoint-client to no server: exit 1, and says so"

# The protocol examples print their exchanges.
check_output () {
  name=$1; expected=$2
  got=$(timeout 20 "$builddir/examples/$name" 2>"$tmp/$name.err") || { echo "FAIL: $name exited $?"; cat "$tmp/$name.err"; exit 1; }
  [ "$got" = "$expected" ] || { printf 'FAIL: %s printed:\n%s\nexpected:\n%s\n' "$name" "$got" "$expected"; exit 1; }
  echo "ok: $name"
}
check_output struct-variant "sent {7, 1.5, -2, seven} as 30 bytes, got {7, 3, -4, seven}"
check_output json-converter '{"item":"tea","quantity":2} -> {"item":"tea (confirmed)","quantity":2}
{"item":"tea"} -> {"item":"refused","quantity":0}'
check_output custom-serializer "READY=1 STATUS=warming up
serialized back: 26 bytes
refused: line 1 is not KEY=VALUE"
check_output send-fds "reply: here is a descriptor, with 1 descriptor; read through it: hello, client"
check_output receive-fds "server saw: 2 file descriptors; credentials uid=$(id -u) "

# One example per section of EasyNetwork's page on Unix datagram servers.
check_output request-handler "first request -> Response to 'first request'
second request -> Response to 'second request'"
check_output refuse-datagrams "from a path -> welcome
from an abstract name -> (no reply)
refused: 1"
check_output error-handling 'a good request -> Response
\xe9t\xe9 -> BadRequest'
check_output timeouts "first -> Response (send the next within 0.5 s)
second -> Response to the second request 'second'
first again -> Response (send the next within 0.5 s)
(silence) -> TimedOut"
check_output client-metadata "hello -> client.sock (a pathname address, uid mine) sent 'hello'"
check_output service-init "how is the timer? -> the timer ticks
Service stopped"
check_output socket-options "who am I? -> SO_PASSCRED=1, credentials are mine"
check_output context-vars "Received request -> [demo-service] From alice.sock: Received request
Received request -> [demo-service] From bob.sock: Received request"
check_output server-object "before: listening=0 serving=0
running: listening=1 serving=1 addresses=1
Request -> Response
after shutdown: listening=1 serving=0
after close: listening=0, socket file removed"
