"""events(decode=True, since=, until=, filters=) replays a container's create, start, die, destroy."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
import time  # noqa: E402


def scenario(dc, cl):
    since = int(time.time()) - 1
    c = cl.container(dc.containers.run(cf.IMAGE, ["sh", "-c", "exit 2"], name=cf.name("ev"), detach=True))
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 2, "exit code")
    c.remove()
    # until in the past-or-now: the server replays what it has and ends the stream.
    until = int(time.time()) + 1
    time.sleep(1.5)
    events = list(dc.events(decode=True, since=since, until=until, filters={"container": c.id}))
    actions = [e.get("Action") for e in events if e.get("Type") == "container"]
    cf.expect_eq(actions, ["create", "start", "die", "destroy"], "container actions")
    die = next(e for e in events if e.get("Action") == "die")
    cf.expect_eq(die["Actor"]["ID"], c.id, "Actor.ID")
    cf.expect_eq(die["Actor"]["Attributes"].get("exitCode"), "2", "die exitCode")
    cf.expect_eq(die["Actor"]["Attributes"].get("name"), cf.name("ev"), "die name")
    cf.expect_eq(die["Actor"]["Attributes"].get("image"), cf.IMAGE, "die image")
    cf.check(isinstance(die.get("timeNano"), int) and die["time"] >= since, f"times {die}")


cf.run(scenario)
