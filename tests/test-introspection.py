#!/usr/bin/env python3
"""udgram from Python through GObject introspection (PyGObject), against the
build tree (GI_TYPELIB_PATH and LD_LIBRARY_PATH set by tests/test-bindings.sh):

1. an endpoint made in Python talks to `udgram serve --upper`;
2. a server whose handler is a Python function (a blocking recv with a
   timeout, then a reply, then a wait for the client's next datagram)
   serves the C client `udgram send`, and a wait that times out reaches
   the handler as Udgram.Error.TIMED_OUT;
3. the boxed types and enumerations are seen as such.

Every wait is bounded."""
import os
import subprocess
import sys
import tempfile
import threading

import gi

gi.require_version("Udgram", "1.0")
gi.require_version("GLib", "2.0")
from gi.repository import GLib, GObject, Udgram  # noqa: E402

builddir = os.environ.get("top_builddir", ".")
udgram = os.path.join(builddir, "tools", "udgram")
tmp = tempfile.mkdtemp(prefix="udgi-")


def fail(what):
    print("FAIL:", what)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


# --- 3. types ---------------------------------------------------------------
address = Udgram.Address.new_pathname("/tmp/x")
check(address.to_string() == "/tmp/x", "Address.to_string")
check(address.get_kind() == Udgram.AddressKind.PATHNAME, "AddressKind enum")
check(Udgram.Address.__gtype__.name == "UdgAddress" and Udgram.Address.__gtype__.is_a(GObject.TYPE_BOXED), "UdgAddress is a boxed GType")
check(Udgram.AddressKind.__gtype__.name == "UdgAddressKind" and Udgram.AddressKind.__gtype__.is_a(GObject.TYPE_ENUM), "UdgAddressKind is a GEnum")
try:
    Udgram.Address.new_pathname("/tmp/" + "x" * 200)  # longer than sun_path
    fail("a path too long is accepted")
except GLib.Error as e:
    check(e.matches(Udgram.error_quark(), Udgram.Error.INVALID_ARGUMENT), f"wrong error {e}")

# --- 1. a Python endpoint against udgram serve --------------------------------
serve_path = os.path.join(tmp, "serve.sock")
server_proc = subprocess.Popen([udgram, "serve", "--upper", "--no-notify", serve_path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    line = server_proc.stdout.readline()  # "udgram: serving at PATH", bounded below
    check("serving at" in line, f"udgram serve did not start: {line!r}")
    endpoint = Udgram.Endpoint.new(serve_path, None, None)
    check(endpoint.send_bytes(GLib.Bytes.new(b"hello from python"), 5.0, None), "Endpoint.send_bytes")
    reply = endpoint.recv_bytes(5.0, None)
    check(reply.get_data() == b"HELLO FROM PYTHON", f"udgram serve answered {reply.get_data()!r}")
    check(endpoint.get_peer_name().to_string() == serve_path, "Endpoint.get_peer_name")
    endpoint.close()
finally:
    server_proc.terminate()
    try:
        server_proc.wait(10)
    except subprocess.TimeoutExpired:
        server_proc.kill()
        fail("udgram serve did not stop")

# --- 2. a server whose handler is Python --------------------------------------
py_path = os.path.join(tmp, "python.sock")
seen = {"timeouts": 0, "requests": [], "errors": []}
lock = threading.Lock()


def handle(client, *user_data):
    try:
        first = client.recv_bytes(5.0)  # the datagram that started this invocation
        client.send_bytes(GLib.Bytes.new(b"got " + first.get_data()))
        with lock:
            seen["requests"].append(first.get_data())
        try:
            second = client.recv_bytes(1.0)  # the client's next datagram, waited for
            client.send_bytes(GLib.Bytes.new(b"then " + second.get_data()))
            with lock:
                seen["requests"].append(second.get_data())
        except GLib.Error as e:
            with lock:
                if e.matches(Udgram.error_quark(), Udgram.Error.TIMED_OUT):
                    seen["timeouts"] += 1
                else:
                    seen["errors"].append(str(e))
        return True
    except Exception as e:  # noqa: BLE001 - reported by the test
        with lock:
            seen["errors"].append(repr(e))
        return False


options = Udgram.ServerOptions.new()
options.set_handle_signals(False)
options.set_notify(False)
server = Udgram.Server.new_with_func(py_path, None, handle, options)
thread = threading.Thread(target=server.serve_forever, daemon=True)
thread.start()
check(server.wait_serving(10.0), "the Python server is not serving")

# Two requests from one C client: the handler answers the first, waits for
# the second and answers it in the same invocation.
out = subprocess.run([udgram, "send", "--timeout", "5", py_path, "one", "two"],
                     capture_output=True, text=True, timeout=30)
check(out.returncode == 0, f"udgram send failed: {out.stderr}")
check(out.stdout.splitlines() == ["got one", "then two"], f"udgram send printed {out.stdout!r}")
# One request: the handler's wait for a second one times out (after 1 s).
out = subprocess.run([udgram, "send", "--timeout", "5", py_path, "alone"],
                     capture_output=True, text=True, timeout=30)
check(out.stdout.splitlines() == ["got alone"], f"udgram send printed {out.stdout!r}")
for _ in range(100):  # the wait ends within 1 s of the reply: bounded at 10 s
    with lock:
        if seen["timeouts"] >= 1:
            break
    GLib.usleep(100 * 1000)
with lock:
    check(seen["timeouts"] == 1, f"timeouts seen by the handler: {seen['timeouts']}")
    check(seen["requests"] == [b"one", b"two", b"alone"], f"requests: {seen['requests']}")
    check(not seen["errors"], f"handler errors: {seen['errors']}")

stats = server.get_stats()
check(stats.received == 3 and stats.handled == 3, f"stats: received {stats.received}, handled {stats.handled}")
server.shutdown()
thread.join(10)
check(not thread.is_alive(), "serve_forever did not return after shutdown")
server.close()
check(not os.path.exists(py_path), "the socket file is left after close")
print("ok: Python endpoint <-> udgram serve, Python handler <-> udgram send, types")
