"""Helpers shared by the python-sdk and testcontainers scenarios.

Each scenario is one script run by `cargo xtask conformance` with the
environment of the contract (conformance/README.md): DOCKER_HOST is the side
under test, every name created starts with CONFORMANCE_PREFIX, exit 0 means
pass. `run(scenario)` gives the scenario a client and a cleanup list, and
removes everything afterwards, also on failure; a cleanup that fails fails
the scenario, since removing what one created is part of conforming.
"""

import os
import socket
import sys
import time
import traceback

import docker
from docker.errors import ImageNotFound, NotFound

PREFIX = os.environ["CONFORMANCE_PREFIX"]
IMAGE = os.environ.get("CONFORMANCE_IMAGE", "busybox:latest")
REGISTRY = os.environ.get("CONFORMANCE_REGISTRY", "127.0.0.1:5000")
SIDE = os.environ.get("CONFORMANCE_SIDE", "")
WORKDIR = os.environ.get("CONFORMANCE_WORKDIR", os.getcwd())
# Hang guard for every wait; far above what any scenario needs on either side.
GUARD = 120


class Failure(Exception):
    """An assertion of a scenario that did not hold."""


def name(suffix):
    return f"{PREFIX}{suffix}"


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def expect_raises(exc_type, fn, what):
    """Calls fn and returns the exception of exc_type it must raise."""
    try:
        fn()
    except exc_type as e:
        return e
    raise Failure(f"{what}: expected {exc_type.__name__}, nothing raised")


def wait_until(pred, what, timeout=GUARD, step=0.5):
    """Polls pred() until it is truthy (state that takes a while: health)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise Failure(f"hang guard: {what} within {timeout}s")


def tcp_read(host, port, timeout=GUARD):
    """Connects to host:port (retrying while nothing listens yet) and reads to EOF."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=10) as s:
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    return data
                last = "connection closed without data"
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise Failure(f"hang guard: nothing read from {host}:{port}: {last}")


def client():
    return docker.from_env(timeout=GUARD)


class Cleanup:
    """What a scenario created, removed in reverse order at the end."""

    def __init__(self, dc):
        self.dc = dc
        self.items = []
        self.errors = []

    def container(self, c):
        self.items.append(("container", c.id))
        return c

    def network(self, n):
        self.items.append(("network", n.id))
        return n

    def volume(self, v):
        self.items.append(("volume", v.name))
        return v

    def image(self, ref):
        self.items.append(("image", ref))
        return ref

    def _remove(self, kind, ref):
        if kind == "container":
            self.dc.api.remove_container(ref, force=True, v=True)
        elif kind == "network":
            self.dc.api.remove_network(ref)
        elif kind == "volume":
            self.dc.api.remove_volume(ref, force=True)
        elif kind == "image":
            self.dc.api.remove_image(ref, noprune=True)

    def _sweep(self):
        """Whatever carries the prefix but was not registered (a failure mid-way)."""
        for c in self.dc.api.containers(all=True, filters={"name": PREFIX}):
            if any(n.lstrip("/").startswith(PREFIX) for n in c.get("Names") or []):
                self.items.append(("container", c["Id"]))
        for n in self.dc.api.networks(names=[PREFIX]):
            if n["Name"].startswith(PREFIX):
                self.items.append(("network", n["Id"]))
        for v in self.dc.api.volumes(filters={"name": PREFIX}).get("Volumes") or []:
            if v["Name"].startswith(PREFIX):
                self.items.append(("volume", v["Name"]))

    def close(self):
        try:
            self._sweep()
        except Exception as e:  # the sweep is best effort; removal errors count
            print(f"cleanup: sweep failed: {e}", file=sys.stderr)
        seen = set()
        # Containers first (networks and volumes in use cannot go), then the rest.
        order = {"container": 0, "network": 1, "volume": 2, "image": 3}
        for kind, ref in sorted(reversed(self.items), key=lambda i: order[i[0]]):
            if (kind, ref) in seen:
                continue
            seen.add((kind, ref))
            try:
                self._remove(kind, ref)
            except NotFound:
                pass
            except Exception as e:
                self.errors.append(f"remove {kind} {ref}: {e}")
        for e in self.errors:
            print(f"cleanup failed: {e}", file=sys.stderr)


def ensure_image(dc):
    """Pulls IMAGE when the side lacks it, as a user would before create
    (docker-py's containers.create, unlike run, does not pull)."""
    try:
        dc.images.get(IMAGE)
    except ImageNotFound:
        repo, _, tag = IMAGE.rpartition(":")
        dc.images.pull(repo, tag=tag)


def run(scenario):
    """Runs scenario(dc, cleanup) and exits 0 on pass, 1 on failure."""
    ok = False
    dc = client()
    cleanup = Cleanup(dc)
    try:
        ensure_image(dc)
        scenario(dc, cleanup)
        ok = True
    except Exception:
        traceback.print_exc()
    finally:
        cleanup.close()
        dc.close()
    sys.exit(0 if ok and not cleanup.errors else 1)
