"""The lab's controllers over the fake kernel (netlab.kernel.fake), without root: what a seed
`up`, an update, a node joining and leaving, a failure in the middle of an update and a
Service's removal leave in the kernel. The root integration tests cover the real kernel;
tests/integration/test_fake_kernel.py shows that the two agree."""
import os

import pytest

from netlab import layout, state
from netlab.errors import NetlabError
from netlab.kernel.fake import FakeKernel
from netlab.lab import Lab
from netlab.model.objects import Node
from netlab.model.seed import seed_cluster



def nat(k: FakeKernel, ns: str, chain: str) -> list[str]:
    return k.iptables.rules(ns, "nat", chain)


def endpoints_of(k: FakeKernel, node_ns: str, service: str) -> list[str]:
    """The pod addresses kube-proxy's chains on a node send `service` (namespace/name:port) to."""
    svc = [r.rsplit("-j ", 1)[1] for r in nat(k, node_ns, "KUBE-SERVICES") if f'"{service}' in r and "KUBE-SVC-" in r]
    seps = [r.rsplit("-j ", 1)[1] for chain in svc for r in nat(k, node_ns, chain) if "KUBE-SEP-" in r]
    return sorted(r.split("--to-destination ")[1].split(":")[0]
                  for sep in seps for r in nat(k, node_ns, sep) if "DNAT" in r)


def seed(kernel, name="ctl"):
    return Lab.up(seed_cluster(name), kernel=kernel)


def test_the_ingress_files_go_where_the_lab_keeps_its_namespaces_files_never_to_the_host(kernel, tmp_path):
    lab = seed(kernel)
    ingress = next(p for p in lab.cluster().pods if p.name.startswith("nginx-ingress-controller"))
    assert (tmp_path / "etc-netns" / layout.pod_ns("ctl", ingress) / "nginx" / "nginx.conf").is_file()
    assert not os.path.exists(f"/etc/netns/{layout.pod_ns('ctl', ingress)}")


def test_a_seed_up_builds_every_namespace_link_rule_and_process(kernel):
    lab = seed(kernel)
    c = lab.cluster()
    assert set(kernel.namespaces) == set(layout.all_namespaces(c))
    node1 = kernel.namespace(layout.node_ns("ctl", "node1")).snapshot()
    assert node1["docker0"]["addresses"] == ["172.30.76.1/24"] and node1["docker0"]["kind"] == "bridge"
    assert node1["flannel.1"]["kind"] == "vxlan" and node1["flannel.1"]["addresses"] == ["172.30.76.0/32"]
    for p in c.pods:
        eth0 = kernel.namespace(layout.pod_ns("ctl", p)).snapshot()["eth0"]
        assert eth0["addresses"] == [f"{p.ip}/24"] and eth0["up"], p.name
    assert {"flanneld-node1", "flanneld-node2", "kubelet-node1", "kubelet-node2", "host/db"} <= kernel.running()
    assert {layout.pod_proc(p.namespace, p.name) for p in c.pods if p.command} <= kernel.running()
    assert lab.state()["status"] == "ready" and all(p.ready for p in c.pods if p.command)
    dp = sorted(p.ip for p in c.pods if p.labels.get("app") == "data-product")
    for node in ("node1", "node2"):
        assert endpoints_of(kernel, layout.node_ns("ctl", node), "default/data-product:data-product") == dp


def replicas(lab, name: str) -> int:
    return len([p for p in lab.cluster().pods if p.owner == name])


def _scale(name: str, replicas: int):
    def change(c):
        next(d for d in c.deployments if d.name == name).replicas = replicas
    return change


def test_scaling_up_and_down_adds_and_removes_pods_and_their_endpoints(kernel):
    lab = seed(kernel)
    node1 = layout.node_ns("ctl", "node1")
    n = replicas(lab, "data-product")
    started, stopped = lab.update(_scale("data-product", n + 1))
    [new] = started
    assert stopped == [] and layout.pod_ns("ctl", new) in kernel.namespaces
    assert layout.pod_proc(new.namespace, new.name) in kernel.running()
    assert new.ip in endpoints_of(kernel, node1, "default/data-product:data-product")
    assert len(endpoints_of(kernel, node1, "default/data-product:data-product")) == n + 1

    started, stopped = lab.update(_scale("data-product", 1))
    assert started == [] and len(stopped) == n
    for p in stopped:
        assert layout.pod_ns("ctl", p) not in kernel.namespaces
        assert layout.pod_proc(p.namespace, p.name) not in kernel.running()
    [left] = [p.ip for p in lab.cluster().pods if p.labels.get("app") == "data-product"]
    assert endpoints_of(kernel, node1, "default/data-product:data-product") == [left]
    # the veths of the pods that went are off docker0 on their nodes
    veths = {n for ns in (node1, layout.node_ns("ctl", "node2"))
             for n, link in kernel.namespace(ns).snapshot().items() if link["master"] == "docker0"}
    assert len(veths) == len(lab.cluster().pods)


def test_a_node_joins_and_leaves(kernel):
    lab = seed(kernel)
    node3 = Node("node3", "192.168.0.23", "172.30.3.0/24")
    [pod] = lab.add_node(node3, pods=1)
    ns3 = layout.node_ns("ctl", "node3")
    assert ns3 in kernel.namespaces and {"flanneld-node3", "kubelet-node3"} <= kernel.running()
    assert kernel.namespace(ns3).snapshot()["docker0"]["addresses"] == ["172.30.3.1/24"]
    assert pod.node == "node3" and layout.pod_ns("ctl", pod) in kernel.namespaces
    underlay = kernel.namespace(layout.host_ns("ctl", layout.UNDERLAY)).snapshot()
    port = next(n for n in underlay if "node3" in n)
    assert underlay[port]["master"] is not None

    lab.remove_node("node3")
    assert ns3 not in kernel.namespaces and layout.pod_ns("ctl", pod) not in kernel.namespaces
    assert not {"flanneld-node3", "kubelet-node3"} & kernel.running()
    assert port not in kernel.namespace(layout.host_ns("ctl", layout.UNDERLAY)).snapshot()
    assert all(p.node != "node3" for p in lab.cluster().pods)
    assert "node3" not in {n.name for n in lab.cluster().nodes}


def test_removing_the_last_node_or_an_unknown_one_is_refused(kernel):
    lab = seed(kernel)
    with pytest.raises(NetlabError, match="^node 'node9' is not in lab 'ctl'$"):
        lab.remove_node("node9")
    lab.remove_node("node2")
    with pytest.raises(NetlabError, match=r"^node 'node1' is the lab's last node \(netlab down removes the lab\)$"):
        lab.remove_node("node1")


def test_a_kernel_step_failing_mid_update_is_reported_and_the_next_update_converges(kernel):
    lab = seed(kernel)
    n = replicas(lab, "data-product")
    kernel.fail("add_addr")           # the new pod's eth0 address
    with pytest.raises(OSError, match="add_addr: injected failure"):
        lab.update(_scale("data-product", n + 1))
    assert replicas(lab, "data-product") == n          # not on record

    started, _ = lab.update(_scale("data-product", n + 1))
    [new] = started
    assert kernel.namespace(layout.pod_ns("ctl", new)).snapshot()["eth0"]["addresses"] == [f"{new.ip}/24"]
    assert len(endpoints_of(kernel, layout.node_ns("ctl", "node1"), "default/data-product:data-product")) == n + 1
    # nothing of the failed attempt is left over: the namespaces are the cluster's, no more
    assert set(kernel.namespaces) == set(layout.all_namespaces(lab.cluster()))


def test_an_iptables_restore_failing_leaves_the_record_as_it_was(kernel):
    lab = seed(kernel)
    before = lab.state()["cluster"]
    kernel.iptables.fail_next = "Resource temporarily unavailable"
    with pytest.raises(NetlabError, match=r"^iptables-legacy-restore in ctl-node[12] failed: Resource temporarily unavailable$"):
        lab.update(lambda c: c.services.pop())
    assert lab.state()["cluster"] == before
    lab.update(lambda c: c.services.pop())
    assert "default/mysql" not in "\n".join(nat(kernel, layout.node_ns("ctl", "node1"), "KUBE-SERVICES"))


def test_removing_a_service_removes_its_rules_on_every_node(kernel):
    lab = seed(kernel)
    for node in ("node1", "node2"):
        assert endpoints_of(kernel, layout.node_ns("ctl", node), "default/business-manager:business-manager")
    lab.update(lambda c: c.services.remove(next(s for s in c.services if s.name == "business-manager")))
    for node in ("node1", "node2"):
        ns = layout.node_ns("ctl", node)
        assert endpoints_of(kernel, ns, "default/business-manager:business-manager") == []
        assert "10.254.80.22" not in kernel.iptables.save(ns, "nat")
    assert "business-manager" in {d.name for d in lab.cluster().deployments}     # its pods stay


def test_a_failed_up_removes_what_it_made(kernel):
    kernel.fail("add_vxlan")
    with pytest.raises(OSError, match="add_vxlan: injected failure"):
        seed(kernel, "broken")
    assert kernel.namespaces == {} and kernel.running() == set()
    assert not (state.RUN_DIR / "broken").exists()


def test_a_node_with_more_pods_than_its_subnet_holds_is_refused_before_the_kernel_changes(kernel):
    lab = seed(kernel)
    namespaces, state = set(kernel.namespaces), lab.state()
    with pytest.raises(NetlabError, match=r"^node add: 254 pods are more than node node3's podCIDR 172\.30\.3\.0/24 "
                                          r"holds \(253\)$"):
        lab.add_node(Node("node3", "192.168.0.23", "172.30.3.0/24"), pods=254)
    assert (set(kernel.namespaces), lab.state()) == (namespaces, state)


def test_an_apply_the_cluster_refuses_changes_neither_the_kernel_nor_the_record(kernel, tmp_path):
    from netlab.model import manifests, store
    lab = seed(kernel)
    namespaces, state = set(kernel.namespaces), lab.state()
    rules = {ns: kernel.iptables.save(ns) for ns in namespaces if "node" in ns}
    f = tmp_path / "m.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: node1}\nspec: {containers: [{name: c}]}\n")
    with pytest.raises(NetlabError, match=rf"^{f}: document 1: metadata\.name: 'node1' is the name of a node"):
        lab.update(lambda c: store.apply(c, manifests.load(f)))
    assert (set(kernel.namespaces), lab.state()) == (namespaces, state)
    assert {ns: kernel.iptables.save(ns) for ns in rules} == rules


def test_a_pod_scaled_away_is_given_its_grace_period_to_end(kernel):
    c = seed_cluster("ctl")
    for p in c.pods:
        if p.owner == "data-product":
            p.termination_grace_period = 1
    lab = Lab.up(c, kernel=kernel)
    _, stopped = lab.update(_scale("data-product", 1))
    _, more = lab.update(_scale("business-manager", 1))
    given = {p.owner: kernel.stopped[layout.pod_proc(p.namespace, p.name)] for p in stopped + more}
    assert given == {"data-product": 1.0, "business-manager": 30.0}


def test_policy_ipsets_are_made_before_the_rules_naming_them_and_destroyed_after(kernel):
    from netlab.model.objects import LabelSelector, NetworkPolicy, PolicyPeer, PolicyRule
    c = seed_cluster("ctl")
    c.policy = "enforce"
    lab = Lab.up(c, kernel=kernel)
    timeline: list[tuple[str, str, str]] = []
    for tool in ("iptables", "ipset"):
        seam = getattr(kernel, tool)
        restore = seam.restore

        def recorded(ns, text, *args, _restore=restore, _tool=tool, **kw):
            timeline.append((_tool, ns, text))
            return _restore(ns, text, *args, **kw)
        seam.restore = recorded
    np = NetworkPolicy("db", "default", LabelSelector({"app": "data-product"}), ["Ingress"],
                       [PolicyRule([PolicyPeer(LabelSelector({"app": "business-manager"}))])])
    lab.update(lambda c: c.network_policies.append(np))
    node1 = layout.node_ns("ctl", "node1")
    made = [i for i, (tool, ns, text) in enumerate(timeline) if tool == "ipset" and ns == node1 and "create" in text]
    named = [i for i, (tool, ns, text) in enumerate(timeline) if tool == "iptables" and ns == node1
             and "--match-set" in text]
    assert made and named and made[0] < named[0]
    (name, (kind, members)), = kernel.ipset.sets[node1].items()
    assert kind == "hash:ip" and sorted(members) == ["172.30.76.6", "172.30.76.7", "172.30.9.3"]

    timeline.clear()
    lab.update(lambda c: c.network_policies.clear())
    unnamed = [i for i, (tool, ns, text) in enumerate(timeline) if tool == "iptables" and ns == node1]
    destroyed = [i for i, (tool, ns, text) in enumerate(timeline) if tool == "ipset" and f"destroy {name}" in text]
    assert unnamed and destroyed and unnamed[0] < destroyed[0]
    assert kernel.ipset.sets[node1] == {}
    assert not any("cali-pi-" in r for r in kernel.iptables.save(node1).splitlines())
