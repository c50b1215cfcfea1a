"""put_archive / get_archive (docker cp both ways) and the stat of a path."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
import io  # noqa: E402
import tarfile  # noqa: E402

from docker.errors import NotFound  # noqa: E402


def one_file_tar(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o640
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def scenario(dc, cl):
    c = cl.container(dc.containers.run(cf.IMAGE, ["sleep", "300"], name=cf.name("cp"), detach=True))
    cf.check(c.put_archive("/tmp", one_file_tar("in.txt", b"into the container\n")), "put_archive")
    r = c.exec_run(["cat", "/tmp/in.txt"])
    cf.expect_eq(r.output, b"into the container\n", "file put")
    r = c.exec_run(["stat", "-c", "%a", "/tmp/in.txt"])
    cf.expect_eq(r.output, b"640\n", "mode of the file put")
    c.exec_run(["sh", "-c", "printf 'out of it' > /tmp/out.txt"])
    stream, stat = c.get_archive("/tmp/out.txt")
    cf.expect_eq((stat["name"], stat["size"]), ("out.txt", 9), "stat of get_archive")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        names = tar.getnames()
        cf.expect_eq(names, ["out.txt"], "names in the archive")
        cf.expect_eq(tar.extractfile("out.txt").read(), b"out of it", "file got")
    cf.expect_raises(NotFound, lambda: c.get_archive("/no/such/path"), "get_archive of a missing path")
    cf.expect_raises(NotFound, lambda: c.put_archive("/no/such/dir", one_file_tar("x", b"x")), "put_archive to a missing dir")


cf.run(scenario)
