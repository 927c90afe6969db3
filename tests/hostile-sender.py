#!/usr/bin/env python3
"""Sends hostile datagrams to a server for a bounded time: random sizes
(0 to max+1), random bytes, random ancillary data (descriptors, credentials,
garbage control messages), from many addresses, bound and unbound; and
checks that __ping__ is answered throughout.

  hostile-sender.py SERVER_PATH SECONDS MAX_SIZE
Prints how many datagrams it sent; exits 1 if a ping went unanswered."""
import array
import os
import random
import socket
import struct
import sys
import time

path, seconds, max_size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
r, w = os.pipe()
senders = []
for i in range(32):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if i % 4:
        s.bind("")  # most bound, some unnamed
    s.setblocking(False)
    senders.append(s)
pinger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
pinger.bind("")
pinger.settimeout(2)

sent = 0
pings = 0
deadline = time.time() + seconds
next_ping = time.time()
while time.time() < deadline:
    s = rng.choice(senders)
    size = rng.choice([0, 1, 2, 100, 1000, rng.randrange(0, max_size + 2), max_size, max_size + 1])
    data = rng.randbytes(size)
    anc = []
    kind = rng.randrange(6)
    if kind == 1:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w][: rng.randrange(1, 3)] * rng.randrange(1, 5)).tobytes())]
    elif kind == 2:
        anc = [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", os.getpid(), os.getuid(), os.getgid()))]
    elif kind == 3:
        anc = [(socket.SOL_SOCKET, rng.randrange(0, 100), rng.randbytes(rng.randrange(0, 64)))]
    elif kind == 4:
        anc = [(rng.randrange(0, 300), rng.randrange(0, 10), rng.randbytes(rng.randrange(0, 32)))]
    try:
        s.sendmsg([data], anc, 0, path)
        sent += 1
    except (BlockingIOError, OSError):
        pass
    if time.time() >= next_ping:
        next_ping = time.time() + 0.2
        pinger.sendto(b"__ping__", path)
        try:
            while pinger.recv(65536) != b"pong":
                pass
            pings += 1
        except socket.timeout:
            print(f"hostile-sender: __ping__ unanswered after {sent} datagrams", flush=True)
            sys.exit(1)
# Last, a valid request from every bound sender: a handler that answered a
# malformed datagram waits for the client's next one (as EasyNetwork's test
# handler does, for ever); this ends those conversations, so that what the
# server still holds afterwards is a leak, not a waiting handler.
for s in senders:
    if s.getsockname():
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.sendto(b"bye", path)
        except OSError:
            pass
os.close(r)
os.close(w)
print(f"hostile-sender: {sent} datagrams in {seconds:.0f} s, {pings} pings answered", flush=True)
