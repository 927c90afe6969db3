#!/usr/bin/env python3
"""Drives tests/conformance-server the way an outside client does, with the
standard library only.  Usage: conformance-client.py SERVER_ADDRESS [--ancillary]
SERVER_ADDRESS is a path or @name.  Exits 0 when every exchange is right."""
import array
import os
import socket
import sys


def address(text):
    return "\0" + text[1:] if text.startswith("@") else text


def exchange(sock, server, payload, expected, timeout=3.0):
    sock.sendto(payload, server)
    sock.settimeout(timeout)
    reply = sock.recv(65536)
    if reply != expected:
        raise SystemExit(f"sent {payload!r}: expected {expected!r}, got {reply!r}")


def no_reply(sock, what, timeout=0.3):
    sock.settimeout(timeout)
    try:
        reply = sock.recv(65536)
    except socket.timeout:
        return
    raise SystemExit(f"{what}: expected no reply, got {reply!r}")


def main():
    server = address(sys.argv[1])
    ancillary = "--ancillary" in sys.argv
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind("")  # autobind, so that the server can answer
    exchange(c, server, b"__ping__", b"pong")
    exchange(c, server, b"hello, world.", b"HELLO, WORLD.")
    exchange(c, server, b"\xe9", b"wrong encoding man.")
    exchange(c, server, b"__eq__", b"True")
    exchange(c, server, b"__cache__", b"True")
    c.sendto(b"__wait__", server)
    exchange(c, server, b"second", b"After wait: second")
    # A parse error at the second receive too: answered, then received again.
    c.sendto(b"__wait__", server)
    exchange(c, server, b"\xe9", b"wrong encoding man.")
    exchange(c, server, b"third", b"After wait: third")
    # __sendmsg__: three descriptors come back.
    c.sendto(b"__sendmsg__", server)
    msg, anc, flags, addr = c.recvmsg(64, socket.CMSG_SPACE(16 * 4))
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if msg != b"fds" or len(fds) != 3:
        raise SystemExit(f"__sendmsg__: got {msg!r} with {len(fds)} fds")
    for fd in fds:
        os.close(fd)
    if ancillary:
        r, w = os.pipe()
        c.sendto(b"__recvmsg__", server)
        exchange(c, server, b"\xe9", b"wrong encoding man.")
        c.sendmsg([b"fds"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w, w]).tobytes())], 0, server)
        c.settimeout(3.0)
        reply = c.recv(65536)
        if reply != b"Received 3 file descriptors.":
            raise SystemExit(f"__recvmsg__: {reply!r}")
        # Unclaimed descriptors are closed by the server: once ours is closed
        # too, the read end sees EOF.
        c.sendmsg([b"__ping__"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]).tobytes())], 0, server)
        if c.recv(65536) != b"pong":
            raise SystemExit("ping with fds")
        os.close(w)
        os.set_blocking(r, True)
        if os.read(r, 1) != b"":
            raise SystemExit("the server kept a descriptor")
        os.close(r)
    else:
        # Ancillary data asked of a server without it: only parse errors are
        # answered, this one goes to the log (a CRITICAL record).
        c.sendto(b"__recvmsg__", server)
        c.sendto(b"fds", server)
        no_reply(c, "__recvmsg__ on a server without --ancillary")
    # Records of every level for the server's log: a handler error
    # (CRITICAL), a closed-client error (WARNING), a datagram longer than
    # max_datagram_size (DEBUG, dropped unparsed), and the lifecycle (INFO).
    c.sendto(b"__error__", server)
    no_reply(c, "__error__")
    c.sendto(b"__closed_client_error__", server)
    no_reply(c, "__closed_client_error__")
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    c.sendto(b"x" * (64 * 1024 + 1), server)
    exchange(c, server, b"__ping__", b"pong")
    # An unbound sender is ignored by default: no reply.
    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    u.sendto(b"__ping__", server)
    print("conformance-client: all exchanges passed")


if __name__ == "__main__":
    main()
