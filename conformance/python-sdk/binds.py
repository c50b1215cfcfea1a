"""volumes={host_dir: {'bind':..,'mode':..}}: the container reads the host's file, its writes land on the host, ro refuses writes."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
from docker.errors import ContainerError  # noqa: E402


def scenario(dc, cl):
    host = os.path.join(cf.WORKDIR, "bind")
    os.makedirs(host)
    os.chmod(host, 0o777)
    with open(os.path.join(host, "in.txt"), "w") as f:
        f.write("from the host\n")
    out = dc.containers.run(
        cf.IMAGE, ["sh", "-c", "cat /data/in.txt; echo from the container > /data/out.txt"],
        name=cf.name("rw"), volumes={host: {"bind": "/data", "mode": "rw"}}, remove=True,
    )
    cf.expect_eq(out, b"from the host\n", "the container reads the host's file")
    with open(os.path.join(host, "out.txt")) as f:
        cf.expect_eq(f.read(), "from the container\n", "the host reads the container's file")
    err = cf.expect_raises(
        ContainerError,
        lambda: dc.containers.run(
            cf.IMAGE, ["sh", "-c", "echo x > /data/ro.txt"], name=cf.name("ro"),
            volumes={host: {"bind": "/data", "mode": "ro"}}, remove=True,
        ),
        "write to a read-only bind",
    )
    cf.expect_eq(err.exit_status, 1, "exit code of the refused write")
    cf.check(b"Read-only file system" in err.stderr, f"stderr: {err.stderr!r}")
    cf.check(not os.path.exists(os.path.join(host, "ro.txt")), "a file appeared through a ro bind")


cf.run(scenario)
