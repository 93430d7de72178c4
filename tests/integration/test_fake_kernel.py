"""The fake iptables and the kernel agree: kube-proxy's syncs are recorded over the fake, replayed
in a real namespace of the test's own, and both end with the same tables."""
import os
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

from helpers import eventually, unique

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


def _replay(calls, real) -> None:
    """The fake's recorded operations, in their order, against real namespaces."""
    def apply(ns, ops):
        for op, args in ops:
            getattr(ns, op)(*args)
    i = 0
    while i < len(calls):
        ns, op, args = calls[i]
        if op == "create_namespace":
            real.create_namespaces([ns])
            i += 1
        elif op == "remove_namespace":
            real.remove_namespaces([ns])
            i += 1
        else:                          # a run of operations in one namespace: one entry into it
            j = i
            while j < len(calls) and calls[j][0] == ns and calls[j][1] not in ("create_namespace",
                                                                             "remove_namespace"):
                j += 1
            real.run_in(ns, apply, [(o, a) for _, o, a in calls[i:j]])
            i = j


def test_a_lab_recorded_over_the_fake_replays_to_the_same_kernel_state(tmp_path, monkeypatch):
    """A seed up, a scale up and down, a node joining and leaving, over the fake kernel; the same
    operations replayed in real namespaces leave the same links, addresses, routes, permanent
    neighbours and FDB entries in every namespace, and the same iptables tables on the nodes."""
    from netlab import layout, state
    from netlab.kernel.fake import FakeKernel
    from netlab.kernel.links import Netlink
    from netlab.kernel.real import KERNEL
    from netlab.lab import Lab
    from netlab.model.objects import Node

    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(state, "MARK_DIR", tmp_path / "marks")
    fake = FakeKernel()
    fake.programs["netlab-flanneld"] = lambda spec: open(spec.argv[spec.argv.index("--ready") + 1], "w").close()
    name = unique("rp")
    lab = Lab.up(seed_cluster(name), kernel=fake)

    def scale(n):
        return lambda c: setattr(next(d for d in c.deployments if d.name == "data-product"), "replicas", n)
    lab.update(scale(4))
    lab.update(scale(1))
    lab.add_node(Node("node3", "192.168.0.23", "172.30.3.0/24"), pods=2)
    lab.remove_node("node3")
    touched = sorted({ns for ns, _, _ in fake.calls})
    try:
        _replay(fake.calls, KERNEL)
        assert sorted(n for n in os.listdir("/run/netns") if n.startswith(f"{name}-")) == sorted(fake.namespaces)
        for ns in sorted(fake.namespaces):
            want = fake.namespace(ns).snapshot()
            # a removed namespace's veth peers go when the kernel frees it, a moment later (its
            # clean-up is deferred): node3's end in the underlay may still be listed, or go mid-read
            eventually(lambda: _snapshot(KERNEL, ns) == want, timeout=2)
            real = KERNEL.run_in(ns, Netlink.snapshot)
            assert real == want, (ns, {k: (str(real.get(k)), str(want.get(k))) for k in set(real) | set(want)
                                       if real.get(k) != want.get(k)})
        for node in ("node1", "node2"):
            ns = layout.node_ns(name, node)
            for n, text, noflush in fake.iptables.calls:
                if n == ns:
                    iptables.restore(ns, text, noflush)
            assert tables(iptables.save(ns)) == tables(fake.iptables.save(ns)), ns
    finally:
        netns.remove_all([ns for ns in touched if netns.exists(ns)])


def _snapshot(kernel, ns: str) -> dict | None:
    from netlab.kernel.links import Netlink
    try:
        return kernel.run_in(ns, Netlink.snapshot)
    except LookupError:         # a link went as it was read
        return None
