"""logs(tail=, since=, until=, timestamps=) on a finished container."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
import datetime  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (.*)$")


def scenario(dc, cl):
    c = cl.container(
        dc.containers.run(cf.IMAGE, ["sh", "-c", "echo a; echo b; echo c"], name=cf.name("logs"), detach=True)
    )
    cf.expect_eq(c.wait(timeout=cf.GUARD)["StatusCode"], 0, "exit code")
    cf.expect_eq(c.logs(), b"a\nb\nc\n", "all logs")
    cf.expect_eq(c.logs(tail=2), b"b\nc\n", "tail=2")
    cf.expect_eq(c.logs(tail=0), b"", "tail=0")
    stamped = c.logs(timestamps=True).splitlines()
    cf.expect_eq(len(stamped), 3, "timestamped lines")
    for line, want in zip(stamped, [b"a", b"b", b"c"]):
        m = TS.match(line)
        cf.check(m is not None, f"line without an RFC 3339 timestamp: {line!r}")
        cf.expect_eq(m.group(1), want, "text after the timestamp")
    # The lines were written within the last minutes: since an hour ago gives
    # all of them, since an hour ahead none, until an hour ago none.
    now = int(time.time())
    cf.expect_eq(c.logs(since=now - 3600), b"a\nb\nc\n", "since an hour ago")
    future = datetime.datetime.fromtimestamp(now + 3600)
    cf.expect_eq(c.logs(since=future), b"", "since an hour ahead")
    cf.expect_eq(c.logs(until=now - 3600), b"", "until an hour ago")


cf.run(scenario)
