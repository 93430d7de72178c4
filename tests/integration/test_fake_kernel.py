"""The fake iptables and the kernel agree: kube-proxy's syncs are recorded over the fake, replayed
in a real namespace of the test's own, and both end with the same tables."""
import re

import pytest

from netlab.errors import NetlabError
from netlab.kernel import iptables, netns
from netlab.kernel.fake import FakeIptables
from netlab.kube_proxy import build
from netlab.kube_proxy.proxier import sync
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster

from helpers import unique

FLANNEL = "*nat\n-A POSTROUTING -s 172.30.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE\nCOMMIT\n"


def tables(saved: str) -> dict:
    """iptables-save text as {table: ({chain: policy}, {chain: rules})}, counters and comments aside."""
    out: dict = {}
    current = None
    for line in saved.splitlines():
        if line.startswith("*"):
            current = out.setdefault(line[1:], ({}, {}))
        elif line.startswith(":"):
            chain, policy = line[1:].split()[:2]
            current[0][chain] = policy
            current[1].setdefault(chain, [])
        elif line.startswith("-A "):
            current[1][line.split()[1]].append(re.sub(r"\s+", " ", line))
    return out


@pytest.fixture
def node():
    name = unique("fk")
    netns.create([name])
    try:
        yield name
    finally:
        netns.remove(name)


def _operations(tmp_path):
    """kube-proxy's syncs of a seed node as its Services change, recorded over the fake."""
    fake, ns = FakeIptables(), "recorded"
    fake.restore(ns, FLANNEL)
    c = seed_cluster()
    c.endpoints = derive_endpoints(c)
    cache = tmp_path / "cache"
    sync(ns, build(c, "node1"), cache, fake)                                  # chain by chain
    for i in range(150):                                                     # whole tables
        c.services.append(Service(f"s{i}", "default", cluster_ip=f"10.254.200.{i + 2}",
                                  ports=[ServicePort(80, "", "UDP")], session_affinity="ClientIP"))
        c.endpoints.append(Endpoints(f"s{i}", "default", [EndpointAddress(f"10.99.0.{i + 2}"),
                                                          EndpointAddress(f"10.99.1.{i + 2}")],
                                     [EndpointPort(80, "", "UDP")]))
    sync(ns, build(c, "node1", endpoints=c.endpoints), cache, fake)
    c.endpoints[-1].addresses.pop()                                          # one endpoint goes
    sync(ns, build(c, "node1", endpoints=c.endpoints), cache, fake)
    del c.services[-20:]                                                     # services go
    sync(ns, build(c, "node1", endpoints=c.endpoints), cache, fake)
    return fake, ns


def test_the_fake_ends_where_the_kernel_ends(node, tmp_path):
    fake, recorded = _operations(tmp_path)
    for _, text, noflush in fake.calls:
        iptables.restore(node, text, noflush)
    assert tables(iptables.save(node)) == tables(fake.save(recorded))


def test_both_refuse_the_same_bad_input_and_keep_the_table(node):
    fake = FakeIptables()
    good = "*nat\n:KUBE-A - [0:0]\n-A PREROUTING -j KUBE-A\nCOMMIT\n"
    for bad in ("*nat\n-A KUBE-A -j RETURN\n-A KUBE-NOPE -j ACCEPT\nCOMMIT\n",
                "*nat\n-A KUBE-A -j KUBE-NOPE\nCOMMIT\n",
                "*nat\n-X KUBE-A\nCOMMIT\n"):
        for restore, ns in ((fake.restore, "f"), (iptables.restore, node)):
            restore(ns, good, noflush=False)
            with pytest.raises(NetlabError, match=rf"^iptables-legacy-restore in {ns} failed: "):
                restore(ns, bad)
        assert tables(iptables.save(node, "nat")) == tables(fake.save("f", "nat"))
