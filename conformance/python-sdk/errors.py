"""ImageNotFound / NotFound / APIError 409 and 400, as dockerd answers them."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
from docker.errors import APIError, ImageNotFound, NotFound  # noqa: E402


def scenario(dc, cl):
    missing = f"{cf.REGISTRY}/library/{cf.PREFIX}nothing:latest"
    cf.expect_raises(ImageNotFound, lambda: dc.containers.create(missing, name=cf.name("noimg")), "create with a missing image")
    e = cf.expect_raises(NotFound, lambda: dc.containers.get(cf.name("nosuch")), "get of a missing container")
    cf.expect_eq(e.status_code, 404, "status of a missing container")
    cf.check(cf.name("nosuch") in str(e.explanation), f"message: {e.explanation}")
    c = cl.container(dc.containers.run(cf.IMAGE, ["sleep", "300"], name=cf.name("dup"), detach=True))
    e = cf.expect_raises(APIError, lambda: dc.containers.create(cf.IMAGE, name=cf.name("dup")), "name conflict")
    cf.expect_eq(e.status_code, 409, "status of a name conflict")
    cf.check("is already in use" in str(e.explanation), f"message: {e.explanation}")
    e = cf.expect_raises(APIError, lambda: c.remove(), "remove of a running container")
    cf.expect_eq(e.status_code, 409, "status of removing a running container")
    e = cf.expect_raises(APIError, lambda: dc.containers.create(cf.IMAGE, name=cf.name("bad name!")), "bad name")
    cf.expect_eq(e.status_code, 400, "status of a bad name")
    cf.check("Invalid container name" in str(e.explanation), f"message: {e.explanation}")
    e = cf.expect_raises(NotFound, lambda: dc.networks.get(cf.name("nonet")), "missing network")
    cf.expect_eq(e.status_code, 404, "status of a missing network")
    e = cf.expect_raises(NotFound, lambda: dc.volumes.get(cf.name("novol")), "missing volume")
    cf.expect_eq(e.status_code, 404, "status of a missing volume")
    e = cf.expect_raises(APIError, lambda: dc.api.exec_create(cf.name("nosuch"), ["true"]), "exec in a missing container")
    cf.expect_eq(e.status_code, 404, "status of exec in a missing container")
    c.remove(force=True)
    cf.expect_raises(NotFound, lambda: c.reload(), "reload after forced remove")


cf.run(scenario)
