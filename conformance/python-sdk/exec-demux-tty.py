"""exec_run(demux=True) splits stdout from stderr; exec_run(tty=True) gets a terminal."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    c = cl.container(dc.containers.run(cf.IMAGE, ["sleep", "300"], name=cf.name("demux"), detach=True))
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"], demux=True)
    cf.expect_eq(r.exit_code, 4, "exit code")
    cf.expect_eq(r.output, (b"out\n", b"err\n"), "demuxed (stdout, stderr)")
    r = c.exec_run(["sh", "-c", "echo only-out"], demux=True)
    cf.expect_eq(r.output, (b"only-out\n", None), "demuxed without stderr")
    r = c.exec_run(["sh", "-c", "tty; echo err >&2"], tty=True)
    cf.expect_eq(r.exit_code, 0, "tty exit code")
    lines = r.output.split(b"\r\n")
    cf.check(lines[0].startswith(b"/dev/pts/"), f"tty answered {r.output!r}")
    # With a terminal both streams are one and newlines become CRLF.
    cf.expect_eq(lines[1:], [b"err", b""], "stderr on the terminal")


cf.run(scenario)
