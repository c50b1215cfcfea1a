"""ports={'8080/tcp': ('127.0.0.1', None)}: reload() shows the host port, a Python socket reads the reply."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402

SERVER = "while true; do nc -l -p 8080 -e echo pong; done"


def scenario(dc, cl):
    # On a user-defined network: the reference engine runs without the default bridge.
    cl.network(dc.networks.create(cf.name("net")))
    c = cl.container(
        dc.containers.run(
            cf.IMAGE, ["sh", "-c", SERVER], name=cf.name("port"), detach=True, network=cf.name("net"),
            ports={"8080/tcp": ("127.0.0.1", None)},
        )
    )
    c.reload()
    bindings = c.ports.get("8080/tcp")
    cf.check(bindings and len(bindings) == 1, f"ports: {c.ports}")
    cf.expect_eq(bindings[0]["HostIp"], "127.0.0.1", "HostIp")
    port = int(bindings[0]["HostPort"])
    cf.check(port > 0, f"HostPort {port}")
    cf.expect_eq(cf.tcp_read("127.0.0.1", port), b"pong\n", "reply")
    # A second connection: the published port outlives the first one.
    cf.expect_eq(cf.tcp_read("127.0.0.1", port), b"pong\n", "second reply")
    cf.expect_eq(
        dc.api.port(c.id, 8080), [{"HostIp": "127.0.0.1", "HostPort": str(port)}], "api.port"
    )


cf.run(scenario)
