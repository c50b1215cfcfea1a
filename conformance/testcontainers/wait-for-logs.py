"""LogMessageWaitStrategy and wait_for_logs: start() returns once the line is logged; get_logs() splits streams."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: E402
from testcontainers.core.waiting_utils import wait_for_logs  # noqa: E402

SCRIPT = "echo starting; echo warming >&2; sleep 2; echo READY; sleep 2; echo AGAIN >&2; sleep 300"


def scenario(dc, cl):
    container = (
        DockerContainer(cf.IMAGE)
        .with_command(["sh", "-c", SCRIPT])
        .with_name(cf.name("logs"))
        .waiting_for(LogMessageWaitStrategy("READY").with_startup_timeout(cf.GUARD))
    )
    with container as c:
        stdout, stderr = c.get_logs()
        cf.check(stdout.startswith(b"starting\nREADY\n"), f"stdout at READY: {stdout!r}")
        cf.check(stderr.startswith(b"warming\n"), f"stderr at READY: {stderr!r}")
        wait_for_logs(c, "AGAIN", timeout=cf.GUARD)
        stdout, stderr = c.get_logs()
        cf.expect_eq((stdout, stderr), (b"starting\nREADY\n", b"warming\nAGAIN\n"), "(stdout, stderr)")


cf.run(scenario)
