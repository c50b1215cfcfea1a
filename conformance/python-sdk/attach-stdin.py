"""api.attach_socket before start, stdin written then half-closed; the output comes back multiplexed."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402


def read_frames(sock):
    """Reads the 8-byte-header multiplexed stream to EOF: (stdout, stderr)."""
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    out = {1: b"", 2: b""}
    while buf:
        cf.check(len(buf) >= 8, f"truncated frame header: {buf!r}")
        kind, size = struct.unpack(">BxxxL", buf[:8])
        out[kind] = out.get(kind, b"") + buf[8 : 8 + size]
        buf = buf[8 + size :]
    return out[1], out[2]


def scenario(dc, cl):
    c = cl.container(
        dc.containers.create(
            cf.IMAGE,
            ["sh", "-c", "cat; echo done >&2"],
            name=cf.name("attach"),
            stdin_open=True,
        )
    )
    # docker-py sets StdinOnce with stdin_open when not detached: EOF on the
    # attached stdin closes the container's stdin, so cat ends.
    cf.expect_eq(c.attrs["Config"]["StdinOnce"], True, "Config.StdinOnce")
    sock = dc.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw = sock._sock  # docker-py hands out a SocketIO; the socket itself half-closes
    raw.settimeout(cf.GUARD)
    c.start()
    raw.sendall(b"hello from stdin\n")
    raw.shutdown(socket.SHUT_WR)
    stdout, stderr = read_frames(raw)
    sock.close()
    cf.expect_eq(stdout, b"hello from stdin\n", "stdout")
    cf.expect_eq(stderr, b"done\n", "stderr")
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 0, "exit code")


cf.run(scenario)
