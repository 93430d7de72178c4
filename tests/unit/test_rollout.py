"""Which pods an update keeps, stops and starts (model.rollout): a pure decision."""
import dataclasses

from netlab.model.objects import Pod
from netlab.model.rollout import initially_ready, plan


def pod(name, node="node1", ip="172.30.76.2", **spec):
    return Pod(name, "default", node, ip, {"app": "web"}, owner="web", **spec)


def names(pods):
    return [p.name for p in pods]


def test_an_unchanged_pod_is_kept_and_nothing_starts_or_stops():
    old = [pod("a", command=["srv"]), pod("b", ip="172.30.76.3", command=["srv"])]
    new = [dataclasses.replace(p) for p in old]
    r = plan(old, new)
    assert (names(r.keep), r.stop, r.start) == (["a", "b"], [], [])
    assert r.keep[0] is new[0]             # the new cluster's pod, so its record is the new one


def test_a_new_pod_starts_and_a_missing_one_stops():
    r = plan([pod("a"), pod("gone", ip="172.30.76.9")], [pod("a"), pod("new", ip="172.30.76.4")])
    assert (names(r.keep), names(r.stop), names(r.start)) == (["a"], ["gone"], ["new"])


def test_a_pod_that_moved_or_changed_spec_is_replaced():
    old = [pod("moved"), pod("readdressed", ip="172.30.76.3"), pod("respecced", ip="172.30.76.5", command=["a"])]
    new = [pod("moved", node="node2"), pod("readdressed", ip="172.30.76.4"),
           pod("respecced", ip="172.30.76.5", command=["b"])]
    r = plan(old, new)
    assert r.keep == []
    assert names(r.stop) == names(r.start) == ["moved", "readdressed", "respecced"]
    assert r.stop[0].node == "node1" and r.start[0].node == "node2"     # the old one goes, the new one comes


def test_readiness_labels_and_restarts_do_not_replace_a_pod():
    """Only place and spec count: a label change (kubectl label) or a probe's verdict do not restart it."""
    old = [pod("a", command=["srv"])]
    new = [dataclasses.replace(old[0], ready=False, restarts=3, labels={"app": "other"})]
    assert names(plan(old, new).keep) == ["a"]


def test_the_same_name_in_another_namespace_is_another_pod():
    a = pod("a")
    b = dataclasses.replace(a, namespace="shop")
    r = plan([a], [b])
    assert (names(r.stop), names(r.start)) == (["a"], ["a"]) and r.start[0].namespace == "shop"


def test_a_new_pod_is_ready_at_once_only_with_a_command_and_no_ports():
    assert initially_ready(pod("a", command=["srv"]))
    assert not initially_ready(pod("a", command=["srv"], container_ports={"http": 80}))
    assert not initially_ready(pod("a"))
