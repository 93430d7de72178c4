"""The deployment controller and the scheduler: replicas become pods, bare pods get a node."""
from netlab.model import controller, names
from netlab.model.objects import Cluster, Deployment, Node, Pod

WHOAMI = {"command": ["netlab-whoami", "--port", "8080"], "container_ports": {"http": 8080}}


def _cluster(*pods: Pod, deployments=()) -> Cluster:
    c = Cluster(name="lab", nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24"),
                                   Node("node2", "192.168.0.22", "172.30.9.0/24")])
    c.pods, c.deployments = list(pods), list(deployments)
    return c


def test_default_spec_runs_whoami_on_8080():
    assert controller.default_spec() == WHOAMI
    assert controller.default_spec() is not controller.default_spec()


def test_a_bare_pod_is_named_after_its_node_and_takes_the_first_free_address():
    c = _cluster(Pod("x", "default", "node1", "172.30.76.2"))
    pod = controller.bare_pod(c, "node1", 100.0)
    name = f"pod-node1-{names.pod_suffix('lab', 'default', 'node1', 0)}"
    assert pod == Pod(name, "default", "node1", "172.30.76.3", {"run": "pod-node1"}, created=100.0, **WHOAMI)
    assert c.pods[-1] is pod
    again = controller.bare_pod(c, "node1", 200.0)            # the next ordinal, the next address
    assert (again.name, again.ip) == (f"pod-node1-{names.pod_suffix('lab', 'default', 'node1', 1)}", "172.30.76.4")
    other = controller.bare_pod(c, "node2", 0.0, namespace="shop")
    assert (other.name, other.namespace, other.ip) == (
        f"pod-node2-{names.pod_suffix('lab', 'shop', 'node2', 0)}", "shop", "172.30.9.2")


def test_a_bare_pods_name_is_free_in_its_own_namespace_only():
    first = f"pod-node1-{names.pod_suffix('lab', 'default', 'node1', 0)}"
    c = _cluster(Pod(first, "shop", "node2", "172.30.9.2"))
    assert controller.bare_pod(c, "node1", 0.0).name == first                   # another namespace's
    c = _cluster(Pod(first, "default", "node2", "172.30.9.2"))
    assert controller.bare_pod(c, "node1", 0.0).name == f"pod-node1-{names.pod_suffix('lab', 'default', 'node1', 1)}"


def test_new_pods_spread_over_nodes_with_the_deployments_names():
    dep = Deployment("web", "default", 3, {"app": "web"}, **WHOAMI)
    c = _cluster(deployments=[dep])
    added, removed = controller.scale(c, 5.0)
    h = names.template_hash("lab", "default", "web")
    assert dep.template_hash == h and dep.next_ordinal == 3 and removed == []
    assert [(p.name, p.node, p.ip, p.owner, p.labels, p.created) for p in added] == [
        (names.pod_name("web", h, names.pod_suffix("lab", "default", "web", i)), node, ip, "web", {"app": "web"}, 5.0)
        for i, (node, ip) in enumerate([("node1", "172.30.76.2"), ("node2", "172.30.9.2"), ("node1", "172.30.76.3")])]
    assert added[0].labels is not dep.labels and added[0].command == WHOAMI["command"]
    assert added[0].command is not dep.command                         # a copy of the template


def test_placement_counts_the_deployments_own_pods_first_then_all_pods():
    busy = [Pod(f"b{i}", "default", "node1", f"172.30.76.{10 + i}") for i in range(3)]
    dep = Deployment("web", "default", 1, {"app": "web"})
    assert controller._place(_cluster(*busy, deployments=[dep]), dep) == "node2"           # fewer pods
    mine = Pod("w", "default", "node2", "172.30.9.2", owner="web")
    assert controller._place(_cluster(*busy, mine, deployments=[dep]), dep) == "node1"      # fewer of its own
    theirs = Pod("w", "shop", "node2", "172.30.9.2", owner="web")                           # another namespace's
    other = Pod("o", "default", "node2", "172.30.9.3", owner="api")                        # another deployment's
    assert controller._place(_cluster(theirs, other, deployments=[dep]), dep) == "node1"


def test_a_taken_name_is_skipped():
    dep = Deployment("web", "default", 1, {"app": "web"})
    h = names.template_hash("lab", "default", "web")
    taken = Pod(names.pod_name("web", h, names.pod_suffix("lab", "default", "web", 0)), "default", "node2",
                "172.30.9.2")
    c = _cluster(taken, deployments=[dep])
    [pod], _ = controller.scale(c, 0.0)
    assert pod.name == names.pod_name("web", h, names.pod_suffix("lab", "default", "web", 1))
    assert dep.next_ordinal == 2


def test_scaling_down_removes_the_newest_pods():
    dep = Deployment("web", "default", 1, {"app": "web"})
    old = Pod("web-a", "default", "node1", "172.30.76.2", owner="web", created=1.0)
    new = Pod("web-b", "default", "node2", "172.30.9.2", owner="web", created=2.0)
    keep = Pod("web-c", "shop", "node2", "172.30.9.3", owner="web", created=3.0)      # another namespace's
    c = _cluster(old, new, keep, deployments=[dep])
    assert controller.scale(c, 9.0) == ([], [new])
    assert c.pods == [old, keep]
    dep.replicas = 0
    assert controller.scale(c, 9.0) == ([], [old])


def test_schedule_places_bare_pods_by_their_address_else_on_the_emptiest_node():
    fixed = Pod("fixed", "default", "", "172.30.9.7")
    free = Pod("free", "default", "", "")
    c = _cluster(Pod("x", "default", "node2", "172.30.9.2"), Pod("y", "default", "node2", "172.30.9.3"), fixed, free)
    controller.schedule(c)
    assert (fixed.node, fixed.ip) == ("node2", "172.30.9.7")
    assert (free.node, free.ip) == ("node1", "172.30.76.2")
    tie = _cluster(Pod("a", "default", "", ""))
    controller.schedule(tie)
    assert (tie.pods[0].node, tie.pods[0].ip) == ("node1", "172.30.76.2")          # a tie: by name


def test_bare_pods_skip_every_taken_ordinal():
    c = _cluster()
    pods = [controller.bare_pod(c, "node1", 0.0) for _ in range(3)]
    assert [p.name for p in pods] == [f"pod-node1-{names.pod_suffix('lab', 'default', 'node1', i)}" for i in range(3)]
    c.pods.remove(pods[1])
    assert controller.bare_pod(c, "node1", 0.0).name == pods[1].name            # the first free one again


def test_scaling_down_by_two_removes_newest_first():
    dep = Deployment("web", "default", 1, {"app": "web"})
    a, b, d = (Pod(f"web-{x}", "default", "node1", f"172.30.76.{i + 2}", owner="web", created=float(i))
               for i, x in enumerate("abd"))
    assert controller.scale(_cluster(a, b, d, deployments=[dep]), 9.0) == ([], [d, b])


def test_schedule_counts_every_pod_and_the_nodes_addresses():
    c = _cluster(Pod("x", "default", "node1", "172.30.76.2"), Pod("y", "default", "node1", "172.30.76.3"),
                 Pod("z", "default", "node2", "172.30.9.2"), Pod("free", "default", "", ""),
                 Pod("placed", "default", "node1", ""))
    controller.schedule(c)      # node1 holds three pods, node2 one: the free pod goes to node2
    assert [(p.node, p.ip) for p in c.pods[3:]] == [("node2", "172.30.9.3"), ("node1", "172.30.76.4")]
