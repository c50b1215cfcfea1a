"""with_volume_mapping: rw binds carry writes back to the host, ro binds refuse them."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402


def scenario(dc, cl):
    rw = os.path.join(cf.WORKDIR, "rw")
    ro = os.path.join(cf.WORKDIR, "ro")
    os.makedirs(rw)
    os.makedirs(ro)
    with open(os.path.join(ro, "in.txt"), "w") as f:
        f.write("host data\n")
    script = "cat /in/in.txt > /out/copy.txt; echo more >> /out/copy.txt; if touch /in/x 2>/dev/null; then exit 9; fi"
    container = (
        DockerContainer(cf.IMAGE)
        .with_command(["sh", "-c", script])
        .with_name(cf.name("vol"))
        .with_volume_mapping(rw, "/out", "rw")
        .with_volume_mapping(ro, "/in")
    )
    with container as c:
        cf.expect_eq(c.wait(), 0, "exit code (9: the ro bind took a write)")
    with open(os.path.join(rw, "copy.txt")) as f:
        cf.expect_eq(f.read(), "host data\nmore\n", "file written through the rw bind")
    cf.expect_eq(sorted(os.listdir(ro)), ["in.txt"], "the ro dir is unchanged")


cf.run(scenario)
