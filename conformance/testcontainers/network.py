"""Network with aliases: a client container reaches the server by its alias."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python-sdk", "support"))
import cf  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402

SERVER = "while true; do nc -l -p 8080 -e echo pong; done"
# Retries while the server is not yet listening; `timeout` and the loop count are hang guards.
CLIENT = "for i in $(seq 30); do if timeout 3 nc srv 8080; then exit 0; fi; sleep 1; done; exit 1"


def scenario(dc, cl):
    net = Network()
    net.name = cf.name("net")  # testcontainers names networks by uuid; the contract wants the prefix
    with net:
        server = (
            DockerContainer(cf.IMAGE).with_command(["sh", "-c", SERVER]).with_name(cf.name("srv"))
            .with_network(net).with_network_aliases("srv")
        )
        client = DockerContainer(cf.IMAGE).with_command(["sh", "-c", CLIENT]).with_name(cf.name("cli")).with_network(net)
        with server, client:
            cf.expect_eq(client.wait(), 0, "client exit code")
            cf.expect_eq(client.get_logs(), (b"pong\n", b""), "client output")
            aliases = server.get_wrapped_container().attrs["NetworkSettings"]["Networks"][net.name]["Aliases"]
            cf.check("srv" in (aliases or []), f"aliases {aliases}")


cf.run(scenario)
