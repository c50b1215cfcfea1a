"""labels on run, containers.list(filters=) by label, name and status."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    key = cf.PREFIX + "role"
    a = cl.container(dc.containers.run(cf.IMAGE, ["sleep", "300"], name=cf.name("a"), labels={key: "a"}, detach=True))
    b = cl.container(dc.containers.run(cf.IMAGE, ["true"], name=cf.name("b"), labels={key: "b", "other": "x"}, detach=True))
    cf.expect_eq(b.wait(timeout=cf.GUARD)["StatusCode"], 0, "b exit code")
    a.reload()
    cf.expect_eq(a.labels, {key: "a"}, "labels of a")

    def names(**filters):
        return sorted(c.name for c in dc.containers.list(all=True, filters=filters))

    cf.expect_eq(names(label=key), [cf.name("a"), cf.name("b")], "label=key")
    cf.expect_eq(names(label=f"{key}=a"), [cf.name("a")], "label=key=a")
    cf.expect_eq(names(label=[key, "other=x"]), [cf.name("b")], "two label filters (and)")
    cf.expect_eq(names(label=f"{key}=none"), [], "label with no match")
    cf.expect_eq(names(label=key, status="exited"), [cf.name("b")], "status=exited")
    cf.expect_eq(names(label=key, status="running"), [cf.name("a")], "status=running")
    cf.expect_eq(names(name=cf.name("a")), [cf.name("a")], "name filter")
    cf.expect_eq(names(id=b.id), [cf.name("b")], "id filter")
    running = sorted(c.name for c in dc.containers.list(filters={"label": key}))
    cf.expect_eq(running, [cf.name("a")], "list without all= shows running ones only")


cf.run(scenario)
