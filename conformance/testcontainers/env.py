"""with_env / with_envs reach the main process and execs."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: E402


def scenario(dc, cl):
    container = (
        DockerContainer(cf.IMAGE)
        .with_command(["sh", "-c", 'echo "env: $FOO $BAZ"; sleep 300'])
        .with_name(cf.name("env"))
        .with_env("FOO", "bar")
        .with_envs(BAZ="qux quux")
        .waiting_for(LogMessageWaitStrategy("env:").with_startup_timeout(cf.GUARD))
    )
    with container as c:
        cf.expect_eq(c.get_logs()[0], b"env: bar qux quux\n", "main process output")
        r = c.exec(["sh", "-c", 'echo "$FOO/$BAZ"'])
        cf.expect_eq((r.exit_code, r.output), (0, b"bar/qux quux\n"), "exec output")
        env = c.get_wrapped_container().attrs["Config"]["Env"]
        cf.check("FOO=bar" in env and "BAZ=qux quux" in env, f"Config.Env {env}")


cf.run(scenario)
