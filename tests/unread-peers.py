#!/usr/bin/env python3
"""Peers that do not read their replies, against a server answering
__ping__ with "pong" (tests/conformance-server), as a hostile local user
would try it.

  unread-peers.py hog SERVER_PATH
      A socket connected to the server sends 30 000 requests over about 3 s
      and never reads; then a fresh client sends __ping__ 5 times.  Prints
      the answers and the slowest time; exits 1 unless 5 of 5 were answered.
  unread-peers.py flood SERVER_PATH SECONDS SERVER_PID
      8 ping/pong clients (threads) for SECONDS alone, then as long beside a
      connected flooder of 512-byte requests that never reads (another
      process, as a hostile user is).  Prints both
      figures, their ratio and the server's RSS growth; exits 1 on a polite
      timeout.
Every wait is bounded."""
import socket
import subprocess
import sys
import threading
import time


def connected(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("")
    s.connect(path)
    return s


def hog(path):
    h = connected(path)
    start = time.monotonic()
    for i in range(30000):
        h.send(b"hog %d" % i)
        if i % 1000 == 999:  # about 3 s in all
            ahead = start + (i + 1) / 10000 - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind("")
    c.settimeout(15)
    answered, slowest = 0, 0.0
    for i in range(5):
        t0 = time.monotonic()
        c.sendto(b"__ping__", path)
        try:
            if c.recv(100) == b"pong":
                answered += 1
                slowest = max(slowest, time.monotonic() - t0)
        except socket.timeout:
            pass
    print("hog: 30000 requests from a connected peer that never reads; a fresh client: "
          "%d/5 answered, the slowest in %.1f ms" % (answered, slowest * 1000))
    h.close()
    return 0 if answered == 5 else 1


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def polite_round(path, seconds, flood):
    stop = threading.Event()
    counts = []
    timeouts = []
    flooded = [0]

    def polite():
        s = connected(path)
        s.settimeout(2)
        n = t = 0
        while not stop.is_set():
            s.send(b"__ping__")
            try:
                s.recv(100)
                n += 1
            except socket.timeout:
                t += 1
        counts.append(n)
        timeouts.append(t)
        s.close()

    threads = [threading.Thread(target=polite) for i in range(8)]
    if flood:
        flooder = subprocess.Popen([sys.executable, __file__, "flooder", path, str(seconds)],
                                   stdout=subprocess.PIPE, text=True)
    for t in threads:
        t.start()
    time.sleep(seconds)  # the measurement's duration
    stop.set()
    for t in threads:
        t.join(10)
    if flood:
        out, _ = flooder.communicate(timeout=30)
        flooded[0] = int(out)
    return sum(counts), sum(timeouts), flooded[0]


def flooder(path, seconds):
    s = connected(path)
    s.setblocking(False)
    payload = b"f" * 512
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            s.send(payload)
            n += 1
        except BlockingIOError:
            time.sleep(0.0001)
    print(n)
    return 0


def flood(path, seconds, pid):
    alone, t_alone, _ = polite_round(path, seconds, False)
    rss0 = rss_kib(pid)
    beside, t_beside, flooded = polite_round(path, seconds, True)
    rss1 = rss_kib(pid)
    print("connected flood (%.0f s): 8 polite clients got %d replies alone, %d beside a flooder that sent %d "
          "(%.2fx); %d polite timeouts; server RSS %+.1f MiB"
          % (seconds, alone, beside, flooded, beside / max(alone, 1), t_alone + t_beside, (rss1 - rss0) / 1024))
    return 0 if t_alone + t_beside == 0 else 1


if sys.argv[1] == "hog":
    sys.exit(hog(sys.argv[2]))
if sys.argv[1] == "flooder":
    sys.exit(flooder(sys.argv[2], float(sys.argv[3])))
sys.exit(flood(sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
