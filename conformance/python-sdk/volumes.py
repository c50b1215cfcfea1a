"""volumes create/list/get/remove, one volume shared by two containers."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
from docker.errors import NotFound  # noqa: E402


def scenario(dc, cl):
    vname = cf.name("vol")
    v = cl.volume(dc.volumes.create(name=vname, labels={cf.PREFIX + "kind": "conformance"}))
    cf.expect_eq(v.name, vname, "volume name")
    cf.expect_eq(dc.volumes.get(vname).attrs["Labels"], {cf.PREFIX + "kind": "conformance"}, "labels")
    listed = [x.name for x in dc.volumes.list(filters={"name": vname})]
    cf.expect_eq(listed, [vname], "volumes.list by name")
    listed = [x.name for x in dc.volumes.list(filters={"label": cf.PREFIX + "kind=conformance"})]
    cf.expect_eq(listed, [vname], "volumes.list by label")
    out = dc.containers.run(
        cf.IMAGE, ["sh", "-c", "echo shared > /data/f; echo wrote"], name=cf.name("writer"),
        volumes={vname: {"bind": "/data", "mode": "rw"}}, remove=True,
    )
    cf.expect_eq(out, b"wrote\n", "writer output")
    out = dc.containers.run(
        cf.IMAGE, ["cat", "/data/f"], name=cf.name("reader"),
        volumes={vname: {"bind": "/data", "mode": "ro"}}, remove=True,
    )
    cf.expect_eq(out, b"shared\n", "reader sees the writer's file")
    v.remove()
    cf.expect_raises(NotFound, lambda: dc.volumes.get(vname), "get after remove")


cf.run(scenario)
