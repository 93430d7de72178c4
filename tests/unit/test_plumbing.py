"""plumbing's pod functions over the fake kernel: what they ask of a namespace."""
from netlab import plumbing
from netlab.cni import bridge as cni
from netlab.kernel.fake import FakeKernel
from netlab.kernel.objects import Neigh


def test_plugging_pods_forgets_only_the_cached_neighbours_of_their_addresses():
    """A reused address's old MAC is forgotten; a new address costs no delete (a netlink
    request each: thousands for a big lab)."""
    k = FakeKernel()
    k.create_namespaces(["node", "a", "b", "c"])
    node = k.namespace("node")
    node.up(node.add_bridge(cni.BRIDGE, cni.MTU))
    node.replace_neigh(Neigh("172.30.0.3", "02:00:00:00:00:03", cni.BRIDGE), permanent=False)
    node.replace_neigh(Neigh("172.30.0.9", "02:00:00:00:00:09", cni.BRIDGE), permanent=False)
    pods = [cni.PodNet(ns, f"veth{ns}", f"172.30.0.{i}/24", "172.30.0.1", "node1", 1000 + i)
            for i, ns in ((2, "a"), (3, "b"), (4, "c"))]
    k.calls.clear()
    plumbing.plug_pods(node, pods)
    assert [args for ns, op, args in k.calls if op == "del_neigh"] == [(Neigh("172.30.0.3", "", cni.BRIDGE),)]
    assert node.neighbours(cni.BRIDGE) == {Neigh("172.30.0.9", "02:00:00:00:00:09", cni.BRIDGE)}
    assert [op for ns, op, args in k.calls].count("add_veth") == 3
    assert all(node.links[p.veth].hairpin for p in pods)
