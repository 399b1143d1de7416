#!/usr/bin/env python3
"""A client written the way the original system's Python clients are: standard-library
ssl with certificate verification off, the header packed with struct '!4s32s16s30sQI',
the body sent in 64 KiB writes, the answer read as an 8-byte size and a body.
It must work unchanged against a fileconv master.

usage: original_client.py HOST PORT TOKEN OPERATION INPUT OUTPUT
"""
import hashlib
import os
import socket
import ssl
import struct
import sys

CHUNK = 64 * 1024


def recv_exact(sock, n):
    parts = []
    while n > 0:
        part = sock.recv(min(n, CHUNK))
        if not part:
            raise ConnectionError("connection closed early")
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def main():
    host, port, token, op, src, dst = sys.argv[1:7]
    with open(src, "rb") as f:
        data = f.read()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    header = struct.pack(
        "!4s32s16s30sQI",
        b"v1.0",
        token.encode(),
        hashlib.md5(data).digest(),
        os.path.basename(src).encode()[:30],
        len(data),
        int(op),
    )
    with socket.create_connection((host, int(port))) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(header)
            for i in range(0, len(data), CHUNK):
                sock.sendall(data[i : i + CHUNK])
            size = struct.unpack("!Q", recv_exact(sock, 8))[0]
            body = recv_exact(sock, size)
    if body.startswith(b"ERROR: "):
        print(body.decode("utf-8", "replace"), file=sys.stderr)
        sys.exit(1)
    with open(dst, "wb") as f:
        f.write(body)


if __name__ == "__main__":
    main()
