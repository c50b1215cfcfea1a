"""images.build from a directory and from a file object: the steps in the
log, the image ID docker-py finds in the stream, labels, build args, a run
of the image; a failing RUN raises BuildError with the builder's message."""

import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402

from docker.errors import BuildError  # noqa: E402


def scenario(dc, cl):
    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            # The run's label first: no build cache shared with the other side.
            f.write(f"ARG BASE\nFROM ${{BASE}}\nLABEL conformance.run={cf.PREFIX}\n")
            f.write("ARG X=unset\nCOPY msg.txt /\nRUN echo \"x=$X\" > /x\n")
        with open(os.path.join(ctx, "msg.txt"), "w") as f:
            f.write("from the context\n")
        tag = cl.image(cf.name("built") + ":1")
        image, logs = dc.images.build(
            path=ctx, tag=tag, buildargs={"BASE": cf.IMAGE, "X": "py"}, labels={"by": "docker-py"}, rm=True
        )
    text = "".join(item.get("stream", "") for item in logs)
    cf.check("RUN echo" in text, f"the RUN step in the log: {text!r}")
    cf.expect_eq(image.id, dc.images.get(tag).id, "the ID docker-py found is the tagged image's")
    cf.expect_eq(image.labels.get("by"), "docker-py", "label")
    out = dc.containers.run(tag, ["cat", "/msg.txt", "/x"], remove=True)
    cf.expect_eq(out, b"from the context\nx=py\n", "the image's files")

    bad = io.BytesIO(f"ARG BASE\nFROM ${{BASE}}\nLABEL conformance.run={cf.PREFIX}\nRUN echo failing && exit 2\n".encode())
    try:
        dc.images.build(fileobj=bad, tag=cf.name("bad") + ":1", buildargs={"BASE": cf.IMAGE})
        cf.check(False, "a failing RUN must raise BuildError")
    except BuildError as e:
        cf.check("returned a non-zero code: 2" in str(e), f"BuildError's message: {e}")
        lines = "".join(item.get("stream", "") for item in e.build_log)
        cf.check("failing" in lines, f"the command's output in the build log: {lines!r}")


cf.run(scenario)
