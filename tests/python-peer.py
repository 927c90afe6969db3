#!/usr/bin/env python3
"""A peer written with the standard library only, speaking EasyNetwork's
base64(zlib(json), checksum=key) stack: the Python side of a service moving
to (or from) udgram.

  python-peer.py client SERVER_PATH KEY_FILE   sends documents, checks echoes
  python-peer.py server PATH KEY_FILE          echoes documents (one run)
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import zlib


def load_key(path):
    return base64.urlsafe_b64decode(open(path).read().strip())


def encode(doc, key):
    inner = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(inner + hmac.new(key, inner, hashlib.sha256).digest())


def decode(datagram, key):
    token = base64.urlsafe_b64decode(datagram)
    inner, digest = token[:-32], token[-32:]
    if not hmac.compare_digest(digest, hmac.new(key, inner, hashlib.sha256).digest()):
        raise ValueError("Invalid token")
    return json.loads(zlib.decompress(inner))


DOCUMENTS = [
    {"hello": "world"},
    [1, 2.5, None, True, "caf\u00e9 \u2603"],
    {"big": ["x" * 40 + str(i) for i in range(60)], "nested": {"deep": [[[1]]]}},
    "just a string",
]


def client(path, key):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind("")
    c.settimeout(3)
    for doc in DOCUMENTS:
        c.sendto(encode(doc, key), path)
        got = decode(c.recv(65536), key)
        if got != doc:
            raise SystemExit(f"sent {doc!r}, got back {got!r}")
    if len(encode(DOCUMENTS[2], key)) < 1024 and len(json.dumps(DOCUMENTS[2])) < 1024:
        raise SystemExit("the big document is not over 1 KiB")
    # Forged tokens: one bit flipped, another key, truncated: no answer, and
    # the next valid datagram is answered.
    good = encode({"after": "forgery"}, key)
    flipped = bytearray(base64.urlsafe_b64decode(good))
    flipped[0] ^= 1
    forged = [base64.urlsafe_b64encode(bytes(flipped)), encode({"x": 1}, os.urandom(32)), good[:-8]]
    c.settimeout(0.3)
    for f in forged:
        c.sendto(f, path)
        try:
            reply = c.recv(65536)
            raise SystemExit(f"a forged datagram was answered: {reply!r}")
        except socket.timeout:
            pass
    c.settimeout(3)
    c.sendto(good, path)
    if decode(c.recv(65536), key) != {"after": "forgery"}:
        raise SystemExit("the valid datagram after forgeries was not answered")
    print("python-peer: client exchanges passed")


def server(path, key):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    print("ready", flush=True)
    try:
        while True:
            data, addr = s.recvfrom(65536)
            doc = decode(data, key)
            s.sendto(encode(doc, key), addr)
            if doc == "stop":
                break
    finally:
        s.close()
        os.unlink(path)


if __name__ == "__main__":
    mode, path, keyfile = sys.argv[1:4]
    (client if mode == "client" else server)(path, load_key(keyfile))
