#!/usr/bin/env python3
"""A stand-in for the service manager (systemd) restarting a Unix datagram
server under load, as every package upgrade does.

  restart-under-load.py MODE SERVER_PATH [OPTION...] -- COMMAND...

MODE is how the socket outlives the process:
  activation  the manager binds SERVER_PATH and passes the socket to every
              process it starts (LISTEN_FDS=1), as a .socket unit does;
  fdstore     the server binds SERVER_PATH itself and stores the socket in
              the manager's fd store (FDSTORE=1 with the descriptor, over
              NOTIFY_SOCKET), as a unit with FileDescriptorStoreMax= lets it;
              the manager passes the stored socket back at each start.
COMMAND is the server.  It runs with LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES,
NOTIFY_SOCKET (and FDSTORE in fdstore mode) set as systemd sets them; it
must echo each request (upper case allowed), send READY=1 once it serves,
stop cleanly on SIGTERM and print its statistics ("dropped N (mailbox) M
(shutdown)") on stdout or stderr when it exits.

Options: --clients=N (32) --window=N (requests in flight per client, 8)
--restarts=N (8) --interval=SECONDS (between a start and the next stop, 0.4)
--latency-bound=SECONDS (0.25)

Meanwhile --clients sockets, connected to SERVER_PATH, each keep --window
numbered requests in flight (sending without blocking, and again while the
server's queue is full).  Prints one line of figures; exits 1 when a request
went unanswered or was answered twice, when a reply took --latency-bound
or more (not judged under a sanitizer, $SANITIZER), when a server dropped a
datagram at shutdown or did not exit 0.  In fdstore mode it then checks
that a second server cannot take the path while the manager holds the
socket, and that a fresh start after the store is dropped (a stop for good)
serves the path with no manual step.  Every wait is bounded."""
import fcntl
import os
import re
import selectors
import signal
import socket
import sys
import threading
import time

LATENCY_BOUND = 0.250
LOSS_TIMEOUT = 3.0


def fail(text):
    print("restart-under-load: FAIL: " + text, flush=True)
    sys.exit(1)


class Manager:
    """What systemd does for one service: the notify socket, the fd store,
    the sockets it passes, and the processes it starts and stops."""

    def __init__(self, mode, path, command, workdir):
        self.mode, self.path, self.command, self.workdir = mode, path, command, workdir
        self.notify_path = os.path.join(workdir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.notify.setblocking(False)
        self.store = []  # (name, fd) as systemd keeps them
        self.passed = []  # what every start gets: (name, fd)
        if mode == "activation":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            if os.path.exists(path):
                os.unlink(path)
            s.bind(path)
            self.socket_unit = s
            self.passed = [("app.socket", s.fileno())]
        self.pid = None
        self.ready = False
        self.starts = 0
        self.dropped_shutdown = 0
        self.stop_ms = []

    def fds_to_pass(self):
        return self.passed if self.mode == "activation" else list(self.store)

    def start(self, extra_env=None, with_fds=True):
        fds = self.fds_to_pass() if with_fds else []
        out = os.path.join(self.workdir, "server.%d.out" % self.starts)
        self.out = out
        self.starts += 1
        self.ready = False
        pid = os.fork()
        if pid == 0:
            try:
                # As systemd: the sockets from fd 3 on, the variables for
                # this process alone.
                high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for _, fd in fds]
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i, inheritable=True)
                log = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.closerange(3 + len(fds), 1024)
                env = dict(os.environ)
                for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "FDSTORE"):
                    env.pop(k, None)
                if fds:
                    env["LISTEN_PID"] = str(os.getpid())
                    env["LISTEN_FDS"] = str(len(fds))
                    env["LISTEN_FDNAMES"] = ":".join(name for name, _ in fds)
                env["NOTIFY_SOCKET"] = self.notify_path
                if self.mode == "fdstore":
                    env["FDSTORE"] = "1"
                env.update(extra_env or {})
                os.execvpe(self.command[0], self.command, env)
            finally:
                os._exit(127)
        self.pid = pid
        return pid

    def on_notify(self):
        """Reads what the service said: READY=1, and FDSTORE=1 with the
        descriptors to keep (a descriptor already kept is not kept twice,
        as systemd compares them)."""
        while True:
            try:
                data, anc, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(64 * 4))
            except BlockingIOError:
                return
            fds = []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                            for i in range(0, len(payload) - len(payload) % 4, 4)]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if fields.get("FDSTORE") == "1":
                for fd in fds:
                    st = os.fstat(fd)
                    if any((os.fstat(k).st_dev, os.fstat(k).st_ino) == (st.st_dev, st.st_ino) for _, k in self.store):
                        os.close(fd)
                    else:
                        self.store.append((fields.get("FDNAME", "stored"), fd))
            else:
                for fd in fds:
                    os.close(fd)
            if fields.get("READY") == "1":
                self.ready = True

    def stop(self, timeout=10.0):
        """SIGTERM, then the exit status and the statistics."""
        t0 = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                break
            if time.monotonic() - t0 > timeout:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                fail("the server did not stop within %.0f s of SIGTERM" % timeout)
            time.sleep(0.001)
        self.stop_ms.append((time.monotonic() - t0) * 1000)
        self.pid = None
        text = open(self.out).read()
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            fail("the server exited with status %d:\n%s" % (status, text[-2000:]))
        m = re.findall(r"dropped (\d+) \(mailbox\) (\d+) \(shutdown\)", text)
        if not m:
            fail("the server printed no statistics:\n" + text[-2000:])
        self.dropped_shutdown += int(m[-1][1])
        return text

    def flush_store(self):
        """A stop for good: systemd closes what the fd store held."""
        for _, fd in self.store:
            os.close(fd)
        self.store = []


class Client:
    def __init__(self, index, path, window):
        self.index = index
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("")  # so that replies can come back
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.window = window
        self.next_seq = 0
        self.unsent = []  # seq waiting for room in the server's queue
        self.in_flight = {}  # seq -> time sent
        self.answered = set()

    def payload(self, seq):
        return b"c%d-%d" % (self.index, seq)

    def fill(self, more):
        while more and len(self.unsent) + len(self.in_flight) < self.window:
            self.unsent.append(self.next_seq)
            self.next_seq += 1
        while self.unsent:
            seq = self.unsent[0]
            try:
                self.sock.send(self.payload(seq))
            except BlockingIOError:
                return  # the server's queue is full: again later
            self.unsent.pop(0)
            self.in_flight[seq] = time.monotonic()


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    command = args[args.index("--") + 1:]
    args = args[:args.index("--")]
    mode, path = args[0], args[1]
    opts = {"clients": 32, "window": 8, "restarts": 8, "interval": 0.4, "latency-bound": LATENCY_BOUND}
    for a in args[2:]:
        k, v = a.lstrip("-").split("=", 1)
        opts[k] = type(opts[k])(v)
    if mode not in ("activation", "fdstore"):
        fail("MODE is activation or fdstore")
    sanitizer = os.environ.get("SANITIZER", "no") not in ("", "no")
    workdir = os.path.dirname(path)
    manager = Manager(mode, path, command, workdir)

    sel = selectors.DefaultSelector()
    sel.register(manager.notify, selectors.EVENT_READ, None)

    def wait_ready(timeout=10.0):
        t0 = time.monotonic()
        while not manager.ready:
            if time.monotonic() - t0 > timeout:
                fail("no READY=1 within %.0f s:\n%s" % (timeout, open(manager.out).read()[-2000:]))
            for key, _ in sel.select(0.01):
                if key.data is None:
                    manager.on_notify()

    manager.start()
    wait_ready()
    if mode == "fdstore" and len(manager.store) != 1:
        fail("the server stored %d sockets, 1 expected" % len(manager.store))

    clients = [Client(i, path, opts["window"]) for i in range(opts["clients"])]
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    stats = {"requests": 0, "duplicates": 0, "unknown": 0, "slowest": 0.0}

    def pump(seconds, more=True):
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                return
            waiting = False
            for c in clients:
                c.fill(more)
                waiting = waiting or bool(c.unsent)
            for key, _ in sel.select(0.001 if waiting else min(0.05, end - now)):
                if key.data is None:
                    manager.on_notify()
                    continue
                c = key.data
                while True:
                    try:
                        reply = c.sock.recv(65536)
                    except BlockingIOError:
                        break
                    except ConnectionRefusedError:
                        break
                    m = re.fullmatch(rb"c(\d+)-(\d+)", reply.lower())
                    if not m or int(m.group(1)) != c.index:
                        stats["unknown"] += 1
                        continue
                    seq = int(m.group(2))
                    if seq in c.in_flight:
                        stats["slowest"] = max(stats["slowest"], time.monotonic() - c.in_flight.pop(seq))
                        c.answered.add(seq)
                        stats["requests"] += 1
                    elif seq in c.answered:
                        stats["duplicates"] += 1
                    else:
                        stats["unknown"] += 1
            if not more and not any(c.in_flight or c.unsent for c in clients):
                return

    pump(opts["interval"])
    for r in range(opts["restarts"]):
        # systemctl restart: stop (SIGTERM, wait for the exit), then start.
        done = threading.Event()
        result = {}

        def stopper():
            try:
                result["text"] = manager.stop()
            except SystemExit as e:
                result["error"] = e
            done.set()

        t = threading.Thread(target=stopper)
        t.start()
        while not done.is_set():
            pump(0.005)
        t.join()
        if "error" in result:
            sys.exit(1)
        manager.start()
        t0 = time.monotonic()
        while not manager.ready:
            if time.monotonic() - t0 > 10:
                fail("no READY=1 within 10 s of restart %d:\n%s" % (r + 1, open(manager.out).read()[-2000:]))
            pump(0.005)
        pump(opts["interval"])
    # Every request sent gets its reply.
    pump(LOSS_TIMEOUT, more=False)
    lost = sum(len(c.in_flight) + len(c.unsent) for c in clients)
    manager.stop()
    line = ("%s, %s: %d clients x %d in flight, %d restarts: %d requests answered, %d lost, %d duplicates, "
            "slowest reply %.1f ms, %d dropped at shutdown; stops took %.0f-%.0f ms"
            % (mode, os.path.basename(command[0]) + (" " + " ".join(command[1:-1]) if len(command) > 2 else ""),
               opts["clients"], opts["window"], opts["restarts"], stats["requests"], lost, stats["duplicates"],
               stats["slowest"] * 1000, manager.dropped_shutdown, min(manager.stop_ms), max(manager.stop_ms)))
    print(line, flush=True)
    if lost or stats["duplicates"] or stats["unknown"] or manager.dropped_shutdown:
        fail("requests lost, answered twice or dropped")
    if stats["slowest"] >= opts["latency-bound"] and not sanitizer:
        fail("a reply took %.1f ms" % (stats["slowest"] * 1000))

    if mode == "fdstore":
        # The manager still holds the socket: a fresh server cannot take
        # its path, even though its file looks like a leftover.
        rogue = manager.start(with_fds=False)
        t0 = time.monotonic()
        while True:
            pid, status = os.waitpid(rogue, os.WNOHANG)
            if pid == rogue:
                break
            if time.monotonic() - t0 > 10:
                os.kill(rogue, signal.SIGKILL)
                os.waitpid(rogue, 0)
                fail("a second server took the path of a socket the manager holds")
            time.sleep(0.01)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            fail("a second server took the path of a socket the manager holds")
        # A stop for good drops the store; the next start finds the file
        # with nobody behind it, and serves the path again.
        manager.flush_store()
        if not os.path.exists(path):
            fail("the stored socket's file was removed")
        manager.start(with_fds=False)
        wait_ready()
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        probe.bind("")
        probe.settimeout(5)
        probe.sendto(b"c0-0", path)
        if probe.recv(100).lower() != b"c0-0":
            fail("the fresh start did not answer")
        manager.stop()
        print("%s: a second server could not take the held socket's path; a fresh start after the store was "
              "dropped served it" % mode, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
