"""logs(stream=True, follow=True) yields lines as they come and ends when the container exits."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    c = cl.container(
        dc.containers.run(
            cf.IMAGE,
            ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done"],
            name=cf.name("follow"),
            detach=True,
        )
    )
    got = b"".join(c.logs(stream=True, follow=True))
    cf.expect_eq(got, b"line1\nline2\nline3\n", "followed output")
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 0, "exit code")


cf.run(scenario)
