"""run(healthcheck=...) goes from starting to healthy; a failing test makes it unhealthy."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402

SECOND = 1_000_000_000


def health(c):
    c.reload()
    return c.attrs["State"].get("Health") or {}


def scenario(dc, cl):
    ok = cl.container(
        dc.containers.run(
            cf.IMAGE, ["sleep", "300"], name=cf.name("healthy"), detach=True,
            healthcheck={"test": ["CMD-SHELL", "test -e /tmp/ready || touch /tmp/ready"], "interval": SECOND,
                         "timeout": 5 * SECOND, "retries": 3},
        )
    )
    bad = cl.container(
        dc.containers.run(
            cf.IMAGE, ["sleep", "300"], name=cf.name("unhealthy"), detach=True,
            healthcheck={"test": ["CMD", "false"], "interval": SECOND, "timeout": 5 * SECOND, "retries": 2},
        )
    )
    cf.expect_eq(ok.attrs["Config"]["Healthcheck"]["Test"], ["CMD-SHELL", "test -e /tmp/ready || touch /tmp/ready"], "Config.Healthcheck.Test")
    cf.wait_until(lambda: health(ok).get("Status") == "healthy", "healthy")
    log = health(ok).get("Log") or []
    cf.check(log and log[-1]["ExitCode"] == 0, f"health log {log}")
    cf.wait_until(lambda: health(bad).get("Status") == "unhealthy", "unhealthy")
    h = health(bad)
    cf.check(h["FailingStreak"] >= 2, f"FailingStreak {h['FailingStreak']}")
    cf.expect_eq(h["Log"][-1]["ExitCode"], 1, "exit code of the failing test")


cf.run(scenario)
