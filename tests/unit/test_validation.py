"""One test per validation rule: each names the field and the value, on one line."""
import copy

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
    assert msg == "pods[0].node: 'node7' is not a node of this cluster"


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
