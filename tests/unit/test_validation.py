"""One test per validation rule: each names the field and the value, on one line."""
import copy
import re

import pytest

from netlab.errors import ModelError
from netlab.model import topology
from netlab.model.seed import seed_cluster
from netlab.model.validate import lab_name, validate

BASE = {
    "nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.76.0/24"},
              {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.9.0/24"}],
    "pods": [{"name": "a", "node": "node1", "ip": "172.30.76.5"}],
}


def _error(edit) -> str:
    doc = copy.deepcopy(BASE)
    edit(doc)
    # the form every validation error has, one line "field.path: reason"; each caller checks the words
    with pytest.raises(ModelError, match=r"^[a-zA-Z][\w.\[\]/-]*: [^\n]+$") as e:
        topology.parse(doc, "t")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_base_is_valid():
    c = topology.parse(copy.deepcopy(BASE), "t")
    assert [p.ip for p in c.pods] == ["172.30.76.5"]


def test_seed_is_valid():
    validate(seed_cluster())


def test_overlapping_subnets():
    msg = _error(lambda d: d["nodes"][1].update(podCIDR="172.30.76.128/25"))
    assert msg == "nodes[1].podCIDR: 172.30.76.128/25 overlaps nodes[0].podCIDR 172.30.76.0/24"


def test_subnet_outside_cluster():
    msg = _error(lambda d: d["nodes"][1].update(podCIDR="10.9.0.0/24"))
    assert msg == "nodes[1].podCIDR: 10.9.0.0/24 is outside cluster.clusterCIDR 172.30.0.0/16"


def test_pod_ip_outside_node_subnet():
    msg = _error(lambda d: d["pods"][0].update(ip="172.30.9.5"))
    assert msg.startswith("pods[0].ip: 172.30.9.5 is outside node node1's podCIDR")


def test_pod_ip_taken_twice():
    msg = _error(lambda d: d["pods"].append({"name": "b", "node": "node1", "ip": "172.30.76.5"}))
    assert msg == "pods[1].ip: 172.30.76.5 is already used by pods[0] (default/a)"


def test_pod_ip_reserved():
    msg = _error(lambda d: d["pods"][0].update(ip="172.30.76.1"))
    assert msg.startswith("pods[0].ip: 172.30.76.1 is reserved")


def test_duplicate_node_names():
    msg = _error(lambda d: d["nodes"][1].update(name="node1"))
    assert msg == "nodes[1].name: 'node1' is already used by nodes[0]"


def test_duplicate_pod_names():
    msg = _error(lambda d: d["pods"].append({"name": "a", "node": "node2"}))
    assert msg == "pods[1].name: 'default/a' is already used by pods[0]"


def test_name_kubernetes_would_reject():
    msg = _error(lambda d: d["pods"][0].update(name="Bad_Name"))
    assert msg.startswith("pods[0].name: 'Bad_Name' is not a valid DNS-1123 subdomain")


def test_unknown_node():
    msg = _error(lambda d: d["pods"][0].update(node="node7"))
    assert msg == "pods[0].node: 'node7' is not a node of this cluster (nodes: node1, node2)"


def test_node_ip_outside_underlay():
    msg = _error(lambda d: d["nodes"][0].update(ip="10.0.0.1"))
    assert msg == "nodes[0].ip: 10.0.0.1 is outside underlay.cidr 192.168.0.0/24"


def test_node_ip_taken_by_host():
    msg = _error(lambda d: d["nodes"][0].update(ip="192.168.0.100"))
    assert msg == "underlay.hosts[0].ip: 192.168.0.100 is already used by nodes[0]"


def test_unknown_field():
    msg = _error(lambda d: d["nodes"][0].update(podCidr="172.30.1.0/24"))
    assert msg.startswith("nodes[0].podCidr: unknown field")


def test_missing_field():
    msg = _error(lambda d: d["nodes"][0].pop("ip"))
    assert msg == "nodes[0].ip: required field is missing"


def test_bad_cidr():
    msg = _error(lambda d: d["nodes"][0].update(podCIDR="172.30.300.0/24"))
    assert msg == "nodes[0].podCIDR: '172.30.300.0/24' is not a network in CIDR form"


def test_negative_replicas():
    msg = _error(lambda d: d.update(deployments=[{"name": "web", "replicas": -1}]))
    assert msg == "deployments[0].replicas: -1 must be a whole number >= 0"


def test_bad_flannel_mode():
    msg = _error(lambda d: d.update(cluster={"flannelMode": "udp"}))
    assert msg == "cluster.flannelMode: 'udp' is not one of routes, seed"


def test_lab_name():
    with pytest.raises(ModelError, match="lab name 'My_Lab'"):
        lab_name("My_Lab")
    assert lab_name("seed") == "seed"


def test_dns_upstream():
    assert topology.parse({**copy.deepcopy(BASE), "cluster": {"dnsUpstream": "192.168.0.100:5353"}}, "t").dns_upstream \
        == "192.168.0.100:5353"
    msg = _error(lambda d: d.update(cluster={"dnsUpstream": "dns.example:53"}))
    assert msg == "cluster.dnsUpstream: 'dns.example' is not an IPv4 address"


# ---- every rule of validate(), on model objects, with its whole message ------------------------

# one wording for a name wherever it is checked (manifests, topology files, a lab's state)
DNS = "(lower case letters, digits, '-', starting and ending alphanumeric)"
SUB = "(lower case letters, digits, '-' and '.', starting and ending alphanumeric)"


def _cluster():
    from netlab.model.objects import Cluster, Node, Pod
    return Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24"),
                          Node("node2", "192.168.0.22", "172.30.9.0/24")],
                   pods=[Pod("a", "default", "node1", "172.30.76.5")])


def _o(kind, *args, **kw):
    from netlab.model import objects
    return getattr(objects, kind)(*args, **kw)


def _set(**kw):
    return lambda c: [setattr(c, k, v) for k, v in kw.items()]


RULES = [
    (_set(cluster_cidr="x"), "cluster.clusterCIDR: 'x' is not a network in CIDR form"),
    (_set(service_cidr="10.254.0.0/33"), "cluster.serviceCIDR: '10.254.0.0/33' is not a network in CIDR form"),
    (_set(underlay_cidr=None), "underlay.cidr: None is not a network in CIDR form"),
    # a destination must say which network it is for: pods, services or the underlay
    (_set(service_cidr="172.30.128.0/20"),
     "cluster.serviceCIDR: 172.30.128.0/20 overlaps cluster.clusterCIDR 172.30.0.0/16"),
    (_set(underlay_cidr="172.0.0.0/8", router="172.0.0.1"),
     "underlay.cidr: 172.0.0.0/8 overlaps cluster.clusterCIDR 172.30.0.0/16"),
    (_set(underlay_cidr="10.254.0.0/24", router="10.254.0.1"),
     "underlay.cidr: 10.254.0.0/24 overlaps cluster.serviceCIDR 10.254.0.0/16"),
    (_set(flannel_mode="vxlan"), "cluster.flannelMode: 'vxlan' is not one of routes, seed"),
    (_set(nodes=[]), "nodes: a cluster needs at least one node"),
    (_set(router="gw"), "underlay.router: 'gw' is not an IPv4 address"),
    (_set(router="10.0.0.1"), "underlay.router: 10.0.0.1 is outside underlay.cidr 192.168.0.0/24"),
    (lambda c: setattr(c.nodes[1], "name", "node1"), "nodes[1].name: 'node1' is already used by nodes[0]"),
    (_set(hosts=[_o("Host", "db", "192.168.0.103"), _o("Host", "db", "192.168.0.104")]),
     "underlay.hosts[1].name: 'db' is already used by underlay.hosts[0]"),
    (_set(hosts=[_o("Host", "Db", "192.168.0.103")]), f"underlay.hosts[0].name: 'Db' is not a valid DNS-1123 label {DNS}"),
    (_set(hosts=[_o("Host", "a.b", "192.168.0.103")]),
     f"underlay.hosts[0].name: 'a.b' is not a valid DNS-1123 label {DNS}"),
    (_set(hosts=[_o("Host", "lb", "192.168.0.103")]), "underlay.hosts[0].name: 'lb' is reserved by netlab"),
    (lambda c: setattr(c.nodes[0], "name", "router"), "nodes[0].name: 'router' is reserved by netlab"),
    (_set(hosts=[_o("Host", "db", "x")]), "underlay.hosts[0].ip: 'x' is not an IPv4 address"),
    (_set(hosts=[_o("Host", "db", "10.0.0.5")]), "underlay.hosts[0].ip: 10.0.0.5 is outside underlay.cidr 192.168.0.0/24"),
    (_set(hosts=[_o("Host", "db", "192.168.0.1")]), "underlay.hosts[0].ip: 192.168.0.1 is already used by underlay.router"),
    (_set(hosts=[_o("Host", "db", "192.168.0.22")]), "underlay.hosts[0].ip: 192.168.0.22 is already used by nodes[1]"),
    (_set(hosts=[_o("Host", "node2", "192.168.0.103")]), "underlay.hosts: name 'node2' is already used by a node"),
    (lambda c: setattr(c.nodes[1], "pod_cidr", "172.30.9.0/31"),
     "nodes[1].podCIDR: 172.30.9.0/31 is too small for pods (at most /30)"),
    (lambda c: setattr(c.nodes[1], "pod_cidr", "nine"), "nodes[1].podCIDR: 'nine' is not a network in CIDR form"),
    (_set(deployments=[_o("Deployment", "Web", "default", 1, {"app": "web"})]),
     f"deployments[0].name: 'Web' is not a valid DNS-1123 subdomain {SUB}"),
    (_set(deployments=[_o("Deployment", "web", "a.b", 1, {"app": "web"})]),
     f"deployments[0].namespace: 'a.b' is not a valid DNS-1123 label {DNS}"),
    (_set(deployments=[_o("Deployment", "web", "default", "2", {"app": "web"})]),
     "deployments[0].replicas: '2' must be a whole number >= 0"),
    (_set(deployments=[_o("Deployment", "web", "default", 1, {"app": "web"}),
                       _o("Deployment", "web", "default", 2, {"app": "web"})]),
     "deployments[1].name: 'default/web' is already used by deployments[0]"),
    (lambda c: setattr(c.pods[0], "name", "A"), f"pods[0].name: 'A' is not a valid DNS-1123 subdomain {SUB}"),
    (lambda c: setattr(c.pods[0], "namespace", "a.b"), f"pods[0].namespace: 'a.b' is not a valid DNS-1123 label {DNS}"),
    (lambda c: setattr(c.pods[0], "node", "node9"), "pods[0].node: 'node9' is not a node of this cluster (nodes: node1, node2)"),
    (lambda c: setattr(c.pods[0], "ip", "x"), "pods[0].ip: 'x' is not an IPv4 address"),
    # exec and logs take a node's, host's or netlab's own name first: such a pod could not be reached
    (lambda c: setattr(c.pods[0], "name", "node2"), "pods[0].name: 'node2' is the name of a node of the lab: "
     "netlab exec node2 and netlab logs node2 would reach that, never the pod (choose another name)"),
    (lambda c: (c.hosts.append(_o("Host", "client", "192.168.0.100")), setattr(c.pods[0], "name", "client")),
     "pods[0].name: 'client' is the name of an outside host of the lab: netlab exec client and netlab logs client "
     "would reach that, never the pod (choose another name)"),
    (lambda c: setattr(c.pods[0], "name", "router"), "pods[0].name: 'router' is the name of one of netlab's own "
     "namespaces of the lab: netlab exec router and netlab logs router would reach that, never the pod "
     "(choose another name)"),
    (lambda c: c.pods.append(_o("Pod", "b", "default", "", "172.30.5.5")), "pods[1].ip: 172.30.5.5 is in no node's podCIDR"),
    (lambda c: c.pods.extend([_o("Pod", "b", "default", "node1", ""), _o("Pod", "c", "default", "", "172.30.9.255")]),
     "pods[2].ip: 172.30.9.255 is reserved (subnet, gateway or broadcast address)"),
    (lambda c: c.pods.append(_o("Pod", "b", "default", "", "172.30.76.5")),
     "pods[1].ip: 172.30.76.5 is already used by pods[0] (default/a)"),
    (lambda c: c.pods.append(_o("Pod", "a", "default", "node2", "172.30.9.5")),
     "pods[1].name: 'default/a' is already used by pods[0]"),
    (_set(probability_decimals=11),
     "cluster.probabilityDecimals: 11 must be 5 (the walk-through's kube-proxy) or 10 (kube-proxy 1.17 and later)"),
    (_set(dns_upstream="192.168.0.100:0"), "cluster.dnsUpstream: '192.168.0.100:0': the port must be 1-65535"),
    (_set(dns_upstream="192.168.0.100:65536"), "cluster.dnsUpstream: '192.168.0.100:65536': the port must be 1-65535"),
    (_set(dns_upstream="192.168.0.100:x"), "cluster.dnsUpstream: '192.168.0.100:x': the port must be 1-65535"),
    (_set(dns_upstream="192.168.0.100:53:1"), "cluster.dnsUpstream: '192.168.0.100:53:1': the port must be 1-65535"),
    (_set(secrets=[_o("Secret", "Db", "default")]), f"secrets[0].name: 'Db' is not a valid DNS-1123 subdomain {SUB}"),
    (_set(config_maps=[_o("ConfigMap", "conf", "a.b")]),
     f"configMaps[0].namespace: 'a.b' is not a valid DNS-1123 label {DNS}"),
    (_set(endpoint_slices=[_o("EndpointSlice", "s", "default", "web"), _o("EndpointSlice", "s", "default", "web")]),
     "endpointSlices[1].name: 'default/s' is already used by endpointSlices[0]"),
    (_set(ingresses=[_o("Ingress", "x", "default"), _o("Ingress", "x", "default")]),
     "ingresses[1].name: 'default/x' is already used by ingresses[0]"),
    (_set(ingress_classes=[_o("IngressClass", "Nginx", "k8s.io/ingress-nginx")]),
     f"ingressClasses[0].name: 'Nginx' is not a valid DNS-1123 subdomain {SUB}"),
    (_set(ingress_classes=[_o("IngressClass", "nginx", "k8s.io/ingress-nginx"),
                           _o("IngressClass", "nginx", "k8s.io/other")]),
     "ingressClasses[1].name: 'nginx' is already used by ingressClasses[0]"),
]


@pytest.mark.parametrize("edit,message", RULES, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(RULES)])
def test_each_rule_names_its_field_and_reason(edit, message):
    c = _cluster()
    validate(c)
    edit(c)
    with pytest.raises(ModelError, match="^" + re.escape(message) + "$"):
        validate(c)
    with pytest.raises(ModelError, match="^" + re.escape("lab.yaml: " + message) + "$"):
        validate(c, "lab.yaml")


ALLOWED = [
    (lambda c: setattr(c.nodes[1], "pod_cidr", "172.30.9.0/30"), "a /30 is the smallest podCIDR"),
    (_set(deployments=[_o("Deployment", "web", "default", 0, {"app": "web"})]), "no replicas"),
    (_set(deployments=[_o("Deployment", "web.v1", "default", 1, {"app": "web"}),
                       _o("Deployment", "web.v1", "shop", 1, {"app": "web"})]), "a subdomain, in two namespaces"),
    (lambda c: c.pods.extend([_o("Pod", "b", "default", "node1", ""), _o("Pod", "a.b", "shop", "", "172.30.9.5")]),
     "a pod without an address yet, one of another namespace on the node its address names"),
    (_set(probability_decimals=10), "ten decimals"),
    (_set(dns_upstream="192.168.0.100"), "no port"),
    (_set(dns_upstream="192.168.0.100:1"), "port 1"),
    (_set(dns_upstream="192.168.0.100:65535"), "port 65535"),
    (_set(ingresses=[_o("Ingress", "x", "default"), _o("Ingress", "x", "shop")]), "one name in two namespaces"),
]


@pytest.mark.parametrize("edit,why", ALLOWED, ids=[w for _, w in ALLOWED])
def test_what_each_rule_allows(edit, why):
    c = _cluster()
    edit(c)
    assert validate(c) is c


def test_lab_names_are_dns_labels_of_at_most_32_characters():
    assert lab_name("a" * 32) == "a" * 32
    for bad in ("a" * 33, "a.b", "A", ""):
        with pytest.raises(ModelError, match="^" + re.escape(
                f"lab name {bad!r}: must be a DNS-1123 label of at most 32 characters") + "$"):
            lab_name(bad)
