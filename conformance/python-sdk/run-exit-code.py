"""containers.run: output of a zero exit, ContainerError with the exit status and stderr otherwise."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
from docker.errors import ContainerError  # noqa: E402


def scenario(dc, cl):
    out = dc.containers.run(cf.IMAGE, ["echo", "hello"], name=cf.name("ok"), remove=True)
    cf.expect_eq(out, b"hello\n", "output of run")
    err = cf.expect_raises(
        ContainerError,
        lambda: dc.containers.run(
            cf.IMAGE, ["sh", "-c", "echo oops >&2; exit 3"], name=cf.name("fail"), remove=True
        ),
        "run exiting 3",
    )
    cf.expect_eq(err.exit_status, 3, "ContainerError.exit_status")
    cf.expect_eq(err.stderr, b"oops\n", "ContainerError.stderr")


cf.run(scenario)
