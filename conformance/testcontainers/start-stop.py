"""DockerContainer(...).with_command(...) as a context manager: running inside, removed on exit."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from docker.errors import NotFound  # noqa: E402


def scenario(dc, cl):
    with DockerContainer(cf.IMAGE).with_command("sleep 300").with_name(cf.name("tc")) as c:
        cid = c.get_container_id()
        c.reload()
        cf.expect_eq(c.status, "running", "status")
        wrapped = c.get_wrapped_container()
        cf.expect_eq(wrapped.name, cf.name("tc"), "name")
        cf.expect_eq(wrapped.attrs["Config"]["Cmd"], ["sleep", "300"], "Config.Cmd")
        labels = wrapped.attrs["Config"]["Labels"]
        cf.check(any(k.startswith("org.testcontainers") for k in labels), f"labels: {labels}")
    cf.expect_raises(NotFound, lambda: dc.containers.get(cid), "the container after the with block")


cf.run(scenario)
