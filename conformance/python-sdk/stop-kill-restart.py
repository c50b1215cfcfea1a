"""kill (SIGKILL → 137), restart, stop with a TERM trap (→ its exit code), kill -s TERM, wait."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402

# "ready" is printed once the trap is set: the scenario signals only after
# seeing it, so it does not depend on how soon the process starts.
LOOP = 'trap "exit 42" TERM; echo ready; while true; do sleep 1; done'


def wait_ready(c, times):
    cf.wait_until(lambda: c.logs().count(b"ready\n") >= times, f"the trap set ({times})")


def scenario(dc, cl):
    c = cl.container(dc.containers.run(cf.IMAGE, ["sh", "-c", LOOP], name=cf.name("life"), detach=True))
    c.reload()
    cf.expect_eq(c.status, "running", "status after run")
    c.kill()
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 137, "exit code after kill")
    c.reload()
    cf.expect_eq((c.status, c.attrs["State"]["ExitCode"]), ("exited", 137), "state after kill")
    c.restart(timeout=10)
    c.reload()
    cf.expect_eq(c.status, "running", "status after restart")
    wait_ready(c, 2)
    c.stop(timeout=30)
    c.reload()
    cf.expect_eq((c.status, c.attrs["State"]["ExitCode"]), ("exited", 42), "state after stop (TERM trapped)")
    c.start()
    wait_ready(c, 3)
    c.kill(signal="SIGTERM")
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 42, "exit code after kill -s TERM")


cf.run(scenario)
