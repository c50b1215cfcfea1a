"""logs(stdout=, stderr=) keep the two streams apart."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    c = cl.container(
        dc.containers.run(
            cf.IMAGE, ["sh", "-c", "echo out1; echo err1 >&2; echo out2"], name=cf.name("split"), detach=True
        )
    )
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 0, "exit code")
    cf.expect_eq(c.logs(stdout=True, stderr=False), b"out1\nout2\n", "stdout only")
    cf.expect_eq(c.logs(stdout=False, stderr=True), b"err1\n", "stderr only")
    both = c.logs()
    cf.expect_eq(sorted(both.splitlines()), [b"err1", b"out1", b"out2"], "both streams")


cf.run(scenario)
