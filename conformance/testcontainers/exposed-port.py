"""with_exposed_ports + get_container_host_ip + get_exposed_port: a socket round trip from Python."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402

SERVER = "while true; do nc -l -p 8080 -e echo pong; done"


def scenario(dc, cl):
    # On a user-defined network: the reference engine runs without the default bridge.
    net = Network()
    net.name = cf.name("net")  # testcontainers names networks by uuid; the contract wants the prefix
    with net, DockerContainer(cf.IMAGE).with_command(["sh", "-c", SERVER]).with_name(
        cf.name("port")
    ).with_network(net).with_exposed_ports(8080) as c:
        host = c.get_container_host_ip()
        port = c.get_exposed_port(8080)
        # localhost, or the network's gateway when testcontainers finds itself in a container.
        cf.check(host, "get_container_host_ip")
        cf.check(int(port) > 0, f"port {port}")
        cf.expect_eq(cf.tcp_read(host, port), b"pong\n", "reply")


cf.run(scenario)
