"""exec_run: exit codes, environment, user, workdir."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    c = cl.container(dc.containers.run(cf.IMAGE, ["sleep", "300"], name=cf.name("exec"), detach=True))
    r = c.exec_run(["sh", "-c", "exit 7"])
    cf.expect_eq(r.exit_code, 7, "exit code of exit 7")
    r = c.exec_run(["echo", "hi"])
    cf.expect_eq((r.exit_code, r.output), (0, b"hi\n"), "echo")
    r = c.exec_run(["sh", "-c", "echo $FOO-$BAR"], environment={"FOO": "foo", "BAR": "bar"})
    cf.expect_eq(r.output, b"foo-bar\n", "environment")
    r = c.exec_run(["sh", "-c", "echo $FOO"], environment=["FOO=list"])
    cf.expect_eq(r.output, b"list\n", "environment as a list")
    r = c.exec_run(["id", "-u"], user="nobody")
    cf.expect_eq(r.output, b"65534\n", "user=nobody")
    r = c.exec_run(["id", "-u"], user="1234:5678")
    cf.expect_eq(r.output, b"1234\n", "user=uid:gid")
    r = c.exec_run(["pwd"], workdir="/etc")
    cf.expect_eq(r.output, b"/etc\n", "workdir")
    r = c.exec_run(["no-such-binary"])
    cf.expect_eq(r.exit_code, 126, "exit code of a missing binary")


cf.run(scenario)
