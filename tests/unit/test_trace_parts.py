"""netlab trace's pure parts: what FROM and TO name, a packet's walk through the seed's rules,
and the reports (json against its schema, html escaped)."""
from __future__ import annotations

import json

import jsonschema
import pytest

from netlab.errors import NetlabError
from netlab.kube_proxy.rules import render
from netlab.model.control_plane import admit
from netlab.model.endpoints import derive_endpoints
from netlab.model.seed import seed_cluster
from netlab.trace import report, target, tracer, walk
from netlab.trace.tracer import Evidence, Hop, Trace

BM = "business-manager-666f454f7f-7l86b"
NODE1 = frozenset({"192.168.0.21", "172.30.76.1", "172.30.76.0"})


@pytest.fixture(scope="module")
def seed():
    c = seed_cluster("seed", 0)
    admit(c, 0)
    c.endpoints = derive_endpoints(c)
    return c


def test_from_names_a_pod_a_node_or_a_host(seed):
    assert target.source(seed, BM, None).kind == "pod"
    assert target.source(seed, "node2", None).ip == "192.168.0.22"
    assert target.source(seed, "client", None).netns == "seed-client"
    with pytest.raises(NetlabError, match="^trace: FROM 'nobody': no pod, node or outside host"):
        target.source(seed, "nobody", None)


@pytest.mark.parametrize("to, kind, ip, port, name", [
    ("data-product", "service", None, 50051, "data-product"),
    ("data-product.default:50051", "service", None, 50051, "data-product.default"),
    ("data-product.default.svc.cluster.local", "service", None, 50051, "data-product.default.svc.cluster.local"),
    ("kube-dns.kube-system", "service", None, 53, "kube-dns.kube-system"),
    ("10.254.116.224:50051", "address", "10.254.116.224", 50051, None),
    ("data-product-6664c6dcb9-tkmms", "pod", "172.30.9.2", 50051, None),
    ("http://192.168.0.21:30799/api", "nodeport", "192.168.0.21", 30799, None),
])
def test_to_names_what_a_user_would(seed, to, kind, ip, port, name):
    src = target.source(seed, BM, None)
    proto = "udp" if to.startswith("kube-dns") else "tcp"
    d = target.destination(seed, to, src, proto)
    assert (d.kind, d.ip, d.port, d.dns_name) == (kind, ip, port, name)


def test_an_ingress_host_from_outside_goes_to_the_node_port(seed):
    d = target.destination(seed, "business-manager.default", target.source(seed, "client", None))
    assert (d.kind, d.ip, d.port, d.host_header) == ("ingress", "192.168.0.21", 30799, "business-manager.default")


@pytest.mark.parametrize("to, message", [
    ("no-such", "no pod, Service, address or Ingress host of that name"),
    ("10.254.116.224", "give the port"),
    ("data-product:http", "port 'http' must be a number"),
])
def test_bad_targets_are_one_line(seed, to, message):
    with pytest.raises(NetlabError, match=message):
        target.destination(seed, to, target.source(seed, BM, None))
    with pytest.raises(NetlabError, match="only a pod resolves Service names"):
        target.destination(seed, "data-product", target.source(seed, "client", None))


def test_the_walk_follows_kube_proxys_chains_to_the_chosen_endpoint(seed):
    nat = walk.chains(render(seed, "node1"), "nat")
    svc_chain = next(r.split("-j ")[-1] for r in nat["KUBE-SERVICES"]
                     if "-d 10.254.116.224/32" in r and "KUBE-SVC-" in r)
    order = {}          # endpoint -> the number of the KUBE-SVC rule that leads to it
    for n, r in enumerate(nat[svc_chain], 1):
        sep = r.split("-j ")[-1]
        order[next(x.split("--to-destination ")[1] for x in nat[sep] if "DNAT" in x)] = n
    assert set(order) == {"172.30.76.5:50051", "172.30.76.3:50051", "172.30.9.2:50051"}
    for endpoint, rule in order.items():
        p = walk.Packet("172.30.76.7", "10.254.116.224", "tcp", 50051, in_dev="docker0", local=NODE1)
        w = walk.walk(nat, "PREROUTING", p, chosen=endpoint)
        assert w.dnat == endpoint
        chains = [s.chain for s in w.steps]
        assert chains[:2] == ["PREROUTING", "KUBE-SERVICES"] and "KUBE-MARK-MASQ" in chains
        svc = next(s for s in w.steps if s.chain.startswith("KUBE-SVC-"))
        assert svc.number == rule
        assert p.mark == 0x4000                    # the seed masquerades pods' traffic to ClusterIPs
        assert walk.walk(nat, "POSTROUTING", p).masquerade


def test_the_walk_finds_the_node_port_and_the_reject_of_a_service_without_endpoints(seed):
    saved = render(seed, "node1")
    p = walk.Packet("192.168.0.100", "192.168.0.21", "tcp", 30799, in_dev="eth0", local=NODE1)
    w = walk.walk(walk.chains(saved, "nat"), "PREROUTING", p, chosen="172.30.76.2:80")
    assert [s.chain for s in w.steps][2] == "KUBE-NODEPORTS" and w.dnat == "172.30.76.2:80"
    # the API's Service leads to the first node's address (its Endpoints, as the API server keeps them)
    api = walk.Packet("172.30.76.7", "10.254.0.1", "tcp", 443, in_dev="docker0", local=NODE1)
    assert walk.walk(walk.chains(saved, "nat"), "PREROUTING", api).dnat == "192.168.0.21:6443"
    # kube-dns with its one pod not ready has no endpoints: its cluster IP refuses
    down = seed_cluster("seed", 0)
    admit(down, 0)
    next(p for p in down.pods if p.namespace == "kube-system").ready = False
    down.endpoints = derive_endpoints(down)
    q = walk.Packet("172.30.76.7", "10.254.0.2", "tcp", 53, in_dev="docker0", out_dev="eth0", local=NODE1)
    f = walk.walk(walk.chains(render(down, "node1"), "filter"), "FORWARD", q)
    assert f.verdict == "REJECT" and "kube-system/kube-dns:dns-tcp has no endpoints" in f.steps[-1].rule
    wanted = walk.candidates(walk.chains(saved, "nat"), "PREROUTING",
                             walk.Packet("172.30.76.7", "10.254.116.224", "tcp", 50051, in_dev="docker0",
                                         local=NODE1))
    svcs = {c for c in wanted if c.startswith("KUBE-SVC-")}
    assert len(svcs) == 1 and len({c for c in wanted if c.startswith("KUBE-SEP-")}) == 3


def sample() -> Trace:
    c = seed_cluster("seed", 0)
    src = target.source(c, BM, None)
    t = Trace(src, target.destination(c, "data-product", src), result="timed out", died=1,
              reason="NetworkPolicy: <x> & \"y\"", seconds=0.5, path=[f"pod:default/{BM}"])
    t.hops = [Hop(src.label, "resolves", [Evidence("dns", "query <a>", {"query": "a."})]),
              Hop("node1", "dropped", [Evidence("rule", "filter ...", {"packets": 1})], ok=False)]
    return t


def test_json_follows_its_schema_and_text_says_where_it_died():
    doc = json.loads(report.as_json(sample()))
    jsonschema.validate(doc, json.loads(report.SCHEMA.read_text()))
    assert doc["died"] == {"hop": 2, "reason": 'NetworkPolicy: <x> & "y"'}
    text = report.text(sample())
    assert " 2. [node1] dropped   <-- the request died here" in text
    assert text.splitlines()[-1] == 'result: died at step 2: NetworkPolicy: <x> & "y" (0.50s)'


def test_html_is_one_escaped_page():
    page = report.page(sample(), svg="<svg></svg>")
    assert page.startswith("<!DOCTYPE html>") and "<svg></svg>" in page
    assert "query &lt;a&gt;" in page and "<a>" not in page.split("<script")[0].replace("<svg></svg>", "")
    assert '<details class="bad" open id="hop-2">' in page
    assert "http" not in page.split('<script type="application/json"')[0].lower().replace("https://", "")


@pytest.mark.parametrize("mark, target, after", [
    (0, ["-j", "MARK", "--set-xmark", "0x4000/0x4000"], 0x4000),      # the seed's KUBE-MARK-MASQ
    (0x4001, ["-j", "MARK", "--set-xmark", "0x4000/0x0"], 0x0001),    # today's --xor-mark 0x4000, as saved
    (0x0001, ["-j", "MARK", "--set-xmark", "0x4000/0x0"], 0x4001),
    (0x0001, ["-j", "MARK", "--or-mark", "0x4000"], 0x4001),
    (0x4001, ["-j", "MARK", "--xor-mark", "0x4000"], 0x0001),
    (0xff, ["-j", "MARK", "--set-mark", "0x2/0xf"], 0xf2),
])
def test_a_mark_target_changes_the_mark_as_xt_mark_does(mark, target, after):
    assert walk.marked(mark, target) == after


def test_counters_come_from_iptables_save_c_on_the_nft_backend():
    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n"
            "[7:420] -A PREROUTING -j KUBE-SERVICES\n[3:180] -A KUBE-SVC-X -j KUBE-SEP-A\n"
            "[0:0] -A KUBE-SVC-X -j KUBE-SEP-B\nCOMMIT\n*filter\n[9:1] -A FORWARD -j KUBE-FORWARD\nCOMMIT\n")
    assert tracer.saved_counters(text, {"nat": {"KUBE-SVC-X"}}) == {"nat": {"KUBE-SVC-X": [3, 0]}}
    assert tracer.saved_counters(text, {"nat": None, "filter": None}) == {
        "nat": {"PREROUTING": [7], "KUBE-SVC-X": [3, 0]}, "filter": {"FORWARD": [9]}}


def _seed_nft(node="node1"):
    from netlab.kube_proxy import nftables, view
    c = seed_cluster()
    c.endpoints = derive_endpoints(c)
    return nftables.build(view.from_cluster(c), next(n for n in view.node_configs(c) if n.name == node),
                          service_cidrs=("10.254.0.0/16",))


def test_the_nft_path_of_a_cluster_ip_follows_the_chosen_endpoint():
    from netlab.trace import nft_path
    steps = nft_path.path(_seed_nft(), "10.254.116.224", "tcp", 50051, "172.30.9.2:50051", set(NODE1))
    chains = [chain.split("-")[0] for chain, _ in steps]
    assert chains == ["services", "service", "endpoint"]
    assert steps[0][1].endswith("(10.254.116.224 . tcp . 50051 : goto " + steps[1][0] + ")")
    assert steps[1][1].startswith("numgen random mod 3 vmap {") and steps[2][0].endswith("__172.30.9.2/50051")
    assert steps[2][1] == "meta l4proto tcp dnat to 172.30.9.2:50051"


def test_the_nft_path_of_a_node_port_goes_through_the_external_chain():
    from netlab.trace import nft_path
    steps = nft_path.path(_seed_nft("node2"), "192.168.0.22", "tcp", 30799, "172.30.76.2:80", {"192.168.0.22"})
    assert [chain.split("-")[0] for chain, _ in steps] == ["services", "external", "service", "endpoint"]
    assert "vmap @service-nodeports" in steps[0][1] and steps[-1][1].endswith("dnat to 172.30.76.2:80")
    # not a node address, not a service: no path
    assert nft_path.path(_seed_nft("node2"), "192.168.0.21", "tcp", 30799, None, {"192.168.0.22"}) == []
