"""Networks with aliases: one given at create (networking_config), one by connect(aliases=) to a running container; peers reach it by both."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402

SERVER = "while true; do nc -l -p 8080 -e echo pong; done"


def client(alias):
    # Retries while the server is not yet listening; `timeout` and the loop count are hang guards.
    return f"for i in $(seq 30); do if timeout 3 nc {alias} 8080; then exit 0; fi; sleep 1; done; exit 1"


def scenario(dc, cl):
    one, two = cf.name("net1"), cf.name("net2")
    net1 = cl.network(dc.networks.create(one, labels={cf.PREFIX + "n": "1"}))
    net2 = cl.network(dc.networks.create(two))
    cf.expect_eq([n.name for n in dc.networks.list(names=[one])], [one], "networks.list(names=)")
    cf.expect_eq(net1.attrs["Labels"], {cf.PREFIX + "n": "1"}, "network labels")
    server = cl.container(
        dc.containers.run(
            cf.IMAGE, ["sh", "-c", SERVER], name=cf.name("srv"), detach=True, network=one,
            networking_config={one: dc.api.create_endpoint_config(aliases=["srv-one"])},
        )
    )
    net2.connect(server, aliases=["srv-two"])
    server.reload()
    networks = server.attrs["NetworkSettings"]["Networks"]
    cf.check("srv-one" in (networks[one].get("Aliases") or []), f"aliases on {one}: {networks[one].get('Aliases')}")
    cf.check("srv-two" in (networks[two].get("Aliases") or []), f"aliases on {two}: {networks[two].get('Aliases')}")
    net2.reload()
    cf.expect_eq([c.name for c in net2.containers], [cf.name("srv")], "containers on net2")
    out = dc.containers.run(cf.IMAGE, ["sh", "-c", client("srv-one")], name=cf.name("c1"), network=one, remove=True)
    cf.expect_eq(out, b"pong\n", "reply through the create-time alias")
    out = dc.containers.run(cf.IMAGE, ["sh", "-c", client("srv-two")], name=cf.name("c2"), network=two, remove=True)
    cf.expect_eq(out, b"pong\n", "reply through the connect-time alias")
    net2.disconnect(server)
    server.reload()
    cf.expect_eq(sorted(server.attrs["NetworkSettings"]["Networks"]), [one], "networks after disconnect")
    server.remove(force=True)
    net1.remove()
    net2.remove()
    cf.expect_eq(dc.networks.list(names=[one]), [], "network gone")


cf.run(scenario)
