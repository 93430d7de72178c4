import re

from netlab.model import names
from netlab.model.controller import new_pod, scale
from netlab.model.objects import Cluster, Deployment, Node

POD = re.compile(r"^web-[0-9a-f]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")


def _cluster(name="lab"):
    c = Cluster(name=name, nodes=[Node("a", "192.168.0.21", "172.30.1.0/24"),
                                  Node("b", "192.168.0.22", "172.30.2.0/24")])
    c.deployments = [Deployment("web", "default", 4, {"app": "web"})]
    return c


def test_pod_names_look_like_kubernetes():
    c = _cluster()
    scale(c, 0.0)
    assert len(c.pods) == 4
    assert all(POD.match(p.name) for p in c.pods), [p.name for p in c.pods]
    assert len({p.name.rsplit("-", 1)[0] for p in c.pods}) == 1     # one template hash


def test_pod_names_are_stable_for_a_lab_and_differ_between_labs():
    first, again, other = _cluster("lab"), _cluster("lab"), _cluster("other")
    for c in (first, again, other):
        scale(c, 0.0)
    assert [p.name for p in first.pods] == [p.name for p in again.pods]
    assert {p.name for p in first.pods}.isdisjoint(p.name for p in other.pods)


def test_replicas_spread_over_nodes_and_take_node_addresses():
    c = _cluster()
    scale(c, 0.0)
    assert sorted(p.node for p in c.pods) == ["a", "a", "b", "b"]
    assert sorted(p.ip for p in c.pods if p.node == "a") == ["172.30.1.2", "172.30.1.3"]


def test_scale_down_removes_newest_and_scale_up_reuses_addresses():
    c = _cluster()
    scale(c, 0.0)
    c.deployments[0].replicas = 2
    newest = new_pod(c, c.deployments[0], 5.0)
    c.pods.append(newest)
    added, removed = scale(c, 6.0)
    assert added == [] and newest in removed and len(c.pods) == 2
    freed = {p.ip for p in removed}
    c.deployments[0].replicas = 4
    added, _ = scale(c, 7.0)
    assert len(added) == 2 and {p.ip for p in added} <= freed


def test_dns1123():
    assert names.is_dns1123_label("data-product")
    assert not names.is_dns1123_label("Data")
    assert not names.is_dns1123_label("-x")
    assert not names.is_dns1123_label("a" * 64)
    assert names.is_dns1123_subdomain("a.b-c")
    assert not names.is_dns1123_subdomain("a..b")


def test_dns1123_lengths_at_their_limits():
    """63 characters a label and 253 a subdomain are allowed, one more is not, and empty is not a name."""
    assert names.is_dns1123_label("a" * 63)
    label = "a" * 63
    longest = ".".join([label] * 3 + ["a" * 61])                 # 63*3 + 61 + 3 dots = 253
    assert len(longest) == 253 and names.is_dns1123_subdomain(longest)
    assert not names.is_dns1123_subdomain(longest + "a")
    assert not names.is_dns1123_subdomain("")
