"""exec: exit codes and output, as a user, in a workdir (ExecConfig)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.container import ExecConfig  # noqa: E402


def scenario(dc, cl):
    with DockerContainer(cf.IMAGE).with_command("sleep 300").with_name(cf.name("exec")) as c:
        r = c.exec(["sh", "-c", "echo out; exit 3"])
        cf.expect_eq((r.exit_code, r.output), (3, b"out\n"), "exit 3")
        r = c.exec("whoami")
        cf.expect_eq((r.exit_code, r.output), (0, b"root\n"), "whoami")
        r = c.exec(ExecConfig(command=["sh", "-c", "id -un; pwd"], user="nobody", workdir="/tmp"))
        cf.expect_eq((r.exit_code, r.output), (0, b"nobody\n/tmp\n"), "user and workdir")


cf.run(scenario)
