#!/usr/bin/env python3
"""Holds a server's pool with waiting sessions, as a hostile local user
would, then measures how soon new clients are answered.

  waiting-sessions.py SERVER_PATH SERVER_PID SERVER_STDERR SESSIONS MAX_THREADS [--active]

SESSIONS sockets (autobound, this process, this uid) each send "__wait__"
to the server (tests/conformance-server: its handler then waits for the
client's next datagram with no timeout).  Once the server has handed them
all to handlers (asked with SIGUSR2, which the server answers on
SERVER_STDERR with "trimmed N: Q queued, ..."), a new client of this uid and, when running as root, one of the user
nobody (a child that drops to it) each send "__ping__": the time to each
"pong" is printed.  Meanwhile the server's threads are counted
(/proc/PID/task) and its RSS read.

With --active (a measurement, not a test) the sessions go on sending
"__wait__" in a loop from a second process while the new clients ask, 10
times each: the figures are the slowest of each.

When running as root, a session of the user nobody begins first and waits
throughout: the longest wait of all, but its uid holds one; it must still
be waiting at the end (its second datagram answered "After wait: kept").

Prints one line of figures; exits 1 when that session lost its wait, when
a client was not answered within
5 s, the other uid's not within 50 ms or this uid's not within 500 ms, when
the server's RSS grew by more than 16 KiB a thread of MAX_THREADS and
16 MiB (these bounds not judged under a sanitizer, $SANITIZER), or when the
server ran more than MAX_THREADS threads plus its own few.  Every wait is
bounded."""
import os
import resource
import signal
import socket
import sys
import time

OWN_THREADS = 16  # the serving thread, the reader, GLib's own


def threads(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ping(path, timeout=5.0):
    """Seconds to the pong of a new client, or None."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind("")
    c.settimeout(timeout)
    t0 = time.monotonic()
    c.sendto(b"__ping__", path)
    try:
        while c.recv(100) != b"pong":
            pass
    except socket.timeout:
        return None
    finally:
        c.close()
    return time.monotonic() - t0


def ping_as_nobody(path):
    """The same from a child that dropped to the user nobody: its seconds,
    None when unanswered, or "skip" when this process cannot change uid."""
    if not can_be_nobody():
        return "skip"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            drop_to_nobody()
            t = ping(path)
            os.write(w, (b"%f" % t) if t is not None else b"none")
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 100)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return None if out in (b"", b"none") else float(out)


def drop_to_nobody():
    """In a child: become the user nobody; False when this process cannot."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


def can_be_nobody():
    if os.getuid() != 0:
        return False
    import pwd
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


def start_kept_session(path):
    """A session of the user nobody, begun before the others: it waits in
    the server for its second datagram, which it sends when told to (a byte
    on the returned pipe), then reads the reply.  The pid and the pipes."""
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go_w)
            os.close(res_r)
            drop_to_nobody()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind("")
            s.settimeout(5)
            s.sendto(b"__wait__", path)
            os.write(res_w, b"r")
            os.read(go_r, 1)
            s.sendto(b"kept", path)
            try:
                os.write(res_w, s.recv(100))
            except socket.timeout:
                os.write(res_w, b"none")
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(res_w)
    os.read(res_r, 1)  # it sent its first datagram
    return pid, go_w, res_r


def main():
    path, pid, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sessions, max_threads = int(sys.argv[4]), int(sys.argv[5])
    sanitizer = os.environ.get("SANITIZER", "no") not in ("", "no")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = sessions + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    rss0 = rss_kib(pid)
    kept = start_kept_session(path) if can_be_nobody() else None
    time.sleep(0.2)  # its wait began: the longest of all
    socks = []
    most_threads = threads(pid)
    for i in range(sessions):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("")
        s.setblocking(False)
        while True:
            try:
                s.sendto(b"__wait__", path)
                break
            except BlockingIOError:
                time.sleep(0.0005)  # the server's queue is full: it reads
        socks.append(s)
        if i % 100 == 99:
            most_threads = max(most_threads, threads(pid))
    # Until every "__wait__" was handed to a handler: nothing queued.
    deadline, asked = time.monotonic() + 60, 0
    while True:
        asked += 1
        os.kill(pid, signal.SIGUSR2)
        answer = None
        for _ in range(500):
            with open(log, "rb") as f:
                f.seek(max(0, os.path.getsize(log) - 8192))
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("trimmed %d:" % asked):
                        answer = line
            if answer is not None:
                break
            time.sleep(0.01)
        most_threads = max(most_threads, threads(pid))
        if answer is not None and " 0 queued" in answer:
            break
        if time.monotonic() > deadline:
            print("FAIL: the server still has datagrams queued 60 s after the sessions: %s" % answer)
            return 1
        time.sleep(0.05)
    active = "--active" in sys.argv
    if active:
        # The sessions keep asking, from another process (a hostile user
        # does not wait for the measurement).
        stop_r, stop_w = os.pipe()
        attacker = os.fork()
        if attacker == 0:
            os.close(stop_w)
            os.set_blocking(stop_r, False)
            while True:
                for s in socks:
                    try:
                        while s.recv(100):
                            pass
                    except OSError:
                        pass
                    try:
                        s.sendto(b"__wait__", path)
                    except OSError:
                        pass
                try:
                    if os.read(stop_r, 1) == b"":
                        os._exit(0)
                except BlockingIOError:
                    pass
        os.close(stop_r)
        time.sleep(1)
    rounds = 10 if active else 1
    same = other = 0.0
    for _ in range(rounds):
        t = ping(path)
        same = None if t is None or same is None else max(same, t)
        t = ping_as_nobody(path)
        other = t if t in (None, "skip") or other in (None, "skip") else max(other, t)
        most_threads = max(most_threads, threads(pid))
    if active:
        os.close(stop_w)
        os.waitpid(attacker, 0)
    rss1 = rss_kib(pid)
    for s in socks:
        s.close()
    # The session of the other uid waited longest of all, but its uid held
    # one wait: it was not ended.
    kept_reply = None
    if kept is not None:
        kpid, go, res = kept
        os.write(go, b"g")
        kept_reply = b""
        while True:
            chunk = os.read(res, 100)
            if not chunk:
                break
            kept_reply += chunk
        os.waitpid(kpid, 0)

    def ms(t):
        return "not answered" if t is None else "skipped (not root)" if t == "skip" else "%.1f ms" % (t * 1000)

    print("%d%s waiting sessions of one uid, max_threads %d: a new client of the same uid answered in %s, one of "
          "another uid in %s; the other uid's older session %s; at most %d server threads; server RSS %+.1f MiB"
          % (sessions, " active" if active else "", max_threads, ms(same), ms(other),
             "skipped (not root)" if kept_reply is None else
             "kept its wait" if kept_reply == b"After wait: kept" else "lost its wait (%r)" % kept_reply,
             most_threads, (rss1 - rss0) / 1024), flush=True)
    ok = True
    if kept_reply is not None and kept_reply != b"After wait: kept":
        print("FAIL: the wait of the other uid's session was ended")
        ok = False
    if same is None or other is None:
        ok = False
    elif not sanitizer:
        if same > 0.5:
            print("FAIL: the same uid's client took over 500 ms")
            ok = False
        if other != "skip" and other > 0.05:
            print("FAIL: the other uid's client took over 50 ms")
            ok = False
    if most_threads > max_threads + OWN_THREADS:
        print("FAIL: %d threads, max_threads is %d" % (most_threads, max_threads))
        ok = False
    if not sanitizer and not active and rss1 - rss0 > max_threads * 16 + 16 * 1024:
        print("FAIL: the server's RSS grew by %d KiB" % (rss1 - rss0))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
