"""images.pull from the registry, tag, get, list, remove; errors for what is not there."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402
from docker.errors import ImageNotFound, NotFound  # noqa: E402


def scenario(dc, cl):
    repo = f"{cf.REGISTRY}/library/busybox"
    img = dc.images.pull(repo, tag="latest")
    cf.check(f"{repo}:latest" in img.tags, f"tags after pull: {img.tags}")
    cf.check(img.id.startswith("sha256:"), f"id {img.id}")
    target = cf.name("img")
    cl.image(f"{target}:v1")
    cf.check(img.tag(target, "v1"), "tag")
    got = dc.images.get(f"{target}:v1")
    cf.expect_eq(got.id, img.id, "id of the tag")
    cf.check(f"{target}:v1" in got.tags, f"tags: {got.tags}")
    cf.expect_eq(got.attrs["Os"], "linux", "Os")
    cf.check(got.attrs["Size"] > 0, "Size")
    listed = dc.images.list(name=target)
    cf.expect_eq([i.id for i in listed], [img.id], "images.list(name=)")
    dc.images.remove(f"{target}:v1")
    cf.expect_raises(ImageNotFound, lambda: dc.images.get(f"{target}:v1"), "get after remove")
    # The registry image stays: other scenarios may use it at the same time.
    cf.check(dc.images.get(f"{repo}:latest").id == img.id, "the pulled image survives the untag")
    cf.expect_raises(NotFound, lambda: dc.images.pull(f"{cf.REGISTRY}/library/{target}-missing", tag="latest"),
                     "pull of a missing repository")
    cf.expect_raises(ImageNotFound, lambda: dc.images.get(f"{target}-missing:latest"), "get of a missing image")


cf.run(scenario)
