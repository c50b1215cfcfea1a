"""run(detach=True) then wait(): StatusCode, and the exited state on reload()."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    c = cl.container(dc.containers.run(cf.IMAGE, ["sh", "-c", "exit 5"], name=cf.name("wait"), detach=True))
    result = c.wait(timeout=cf.GUARD)
    cf.expect_eq(result["StatusCode"], 5, "wait StatusCode")
    c.reload()
    cf.expect_eq(c.status, "exited", "status after wait")
    cf.expect_eq(c.attrs["State"]["ExitCode"], 5, "State.ExitCode")
    cf.expect_eq(c.name, cf.name("wait"), "name")
    # A second wait on an exited container answers at once with the same code.
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 5, "second wait")


cf.run(scenario)
