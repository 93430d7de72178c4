"""kube-proxy's nftables mode (netlab.kube_proxy.nftables): the table, its texts, and the
transaction between two tables. Upstream's expectations are hand-copied into golden files;
names are recomputed here from their definition."""
import base64
import hashlib
from dataclasses import replace
from pathlib import Path

from netlab.kube_proxy import nft_names
from netlab.kube_proxy import nftables as nft
from netlab.kube_proxy.view import Endpoint as E
from netlab.kube_proxy.view import NodeConfig
from netlab.kube_proxy.view import ServicePort as SP
from tests.unit import golden_files, upstream_services

GOLDEN = Path(__file__).parent / "golden" / "kube-proxy-nftables"

# TestOverallNFTablesRules's inputs (pkg/proxy/nftables/proxier_test.go, v1.33 era)
UPSTREAM_NODE = NodeConfig("test-node", ("192.168.0.2", "192.168.1.2", "192.168.99.11"), pod_cidr="10.0.0.0/8",
                           node_port_addresses=("192.168.0.2/32", "2001:db8::1/128"))
UPSTREAM_PORTS = upstream_services.PORTS


def test_upstream_overall_rules_line_by_line():
    want = nft.canonical((GOLDEN / "upstream-TestOverallNFTablesRules.nft").read_text())
    got = nft.canonical(nft.dump(nft.build(UPSTREAM_PORTS, UPSTREAM_NODE, service_cidrs=("172.30.0.0/16",))))
    assert got.splitlines() == want.splitlines()


def hashed(readable: str) -> str:
    """kube-proxy's rule restated: base32(sha256(name))[:8] + "-" + name."""
    return base64.b32encode(hashlib.sha256(readable.encode()).digest()).decode()[:8] + "-" + readable


def test_names_are_upstreams():
    rs = nft.build(UPSTREAM_PORTS, UPSTREAM_NODE)
    assert hashed("ns1/svc1/tcp/p80") == "ULMVA6XW-ns1/svc1/tcp/p80"       # as in upstream's expectation
    assert "service-" + hashed("ns1/svc1/tcp/p80") in rs.chains
    assert "endpoint-" + hashed("ns4/svc4/tcp/p80__10.180.0.5/80") in rs.chains
    assert "affinity-" + hashed("ns5/svc5/tcp/p80__10.180.0.3/80") in rs.containers
    assert "firewall-" + hashed("ns5/svc5/tcp/p80") in rs.chains


def test_long_names_are_cut_with_dots():
    # only an IPv6 endpoint of a service whose names are all 63 characters gets there
    long, ip = "n" * 63, "fd00:1234:5678:9abc:def0:1234:5678:9abc"
    readable = f"{long}/{long}/udp/{long}__{ip.replace(':', '.')}/65535"
    assert len(hashed(readable)) > 240
    assert nft_names.endpoint_base(long, long, "UDP", long, ip, 65535) == hashed(readable)[:237] + "..."
    assert nft_names.service_base(long, long, "UDP", long) == hashed(f"{long}/{long}/udp/{long}")


# One node, a service of every kind: the golden dump, checked by eye against proxier.go.
NODE = NodeConfig("node1", ("192.168.56.11",), pod_cidr="10.244.1.0/24")


def ep(ip, node="node2", **kw):
    return E(ip, 8080, node=node, **kw)


CASES = [
    SP("default", "web", "http", "TCP", 80, "10.96.0.20", endpoints=(ep("10.244.2.5"), ep("10.244.1.7", "node1"))),
    SP("kube-system", "kube-dns", "dns", "UDP", 53, "10.96.0.10", endpoints=(E("10.244.1.3", 53, node="node1"),)),
    SP("default", "api", "", "TCP", 443, "10.96.0.30", type="NodePort", node_port=30443,
       endpoints=(ep("10.244.2.9"),)),
    SP("default", "shop", "http", "TCP", 80, "10.96.0.40", type="LoadBalancer", node_port=31080,
       load_balancer_ips=("203.0.113.10",), source_ranges=("198.51.100.0/24", "192.168.56.0/24"),
       endpoints=(ep("10.244.2.6"),)),
    SP("default", "lb-open", "http", "TCP", 80, "10.96.0.41", type="LoadBalancer", node_port=31081,
       load_balancer_ips=("203.0.113.11",), endpoints=(ep("10.244.2.7"),)),
    SP("default", "ext", "http", "TCP", 8080, "10.96.0.50", external_ips=("192.168.56.200",),
       endpoints=(ep("10.244.2.8"),)),
    SP("default", "local-here", "http", "TCP", 80, "10.96.0.60", type="NodePort", node_port=30060,
       external_policy_local=True, health_check_node_port=32000,
       endpoints=(ep("10.244.1.9", "node1"), ep("10.244.2.9"))),
    SP("default", "local-elsewhere", "http", "TCP", 80, "10.96.0.61", type="NodePort", node_port=30061,
       external_policy_local=True, endpoints=(ep("10.244.2.10"),)),
    SP("default", "itp-local", "http", "TCP", 80, "10.96.0.62", internal_policy_local=True,
       endpoints=(ep("10.244.2.11"),)),
    SP("default", "sticky", "http", "TCP", 80, "10.96.0.70", affinity_seconds=600,
       endpoints=(ep("10.244.2.12"), ep("10.244.2.13"))),
    SP("default", "empty", "http", "TCP", 80, "10.96.0.80", type="NodePort", node_port=30080,
       external_ips=("192.168.56.201",)),
    SP("default", "draining", "http", "TCP", 80, "10.96.0.90",
       endpoints=(ep("10.244.2.14", ready=False, serving=True, terminating=True),
                  ep("10.244.2.15", ready=False, serving=False, terminating=True))),
]


def test_golden_dump_of_every_kind():
    golden_files.check(GOLDEN / "node1.dump", nft.dump(nft.build(CASES, NODE, service_cidrs=("10.96.0.0/12",))))


def chain_rules(rs, prefix, service):
    [name] = [n for n in rs.chains if n.startswith(prefix) and f"/{service}/" in n]
    return rs.chains[name].rules


def test_policies_and_fallbacks():
    rs = nft.build(CASES, NODE)
    # Local policy with no endpoint here: external traffic dropped, pods and the node still served
    assert rs.elements["no-endpoint-nodeports"]["tcp . 30061"].value == "drop"
    assert [r for r in chain_rules(rs, "external-", "local-elsewhere") if r.startswith("goto")] == []
    # internalTrafficPolicy Local without a local endpoint: the cluster IP drops
    assert rs.elements["no-endpoint-services"]["10.96.0.62 . tcp . 80"].value == "drop"
    # no endpoints at all: reject, everywhere the service listens
    assert rs.elements["no-endpoint-services"]["192.168.56.201 . tcp . 80"].value == "goto reject-chain"
    assert rs.elements["no-endpoint-nodeports"]["tcp . 30080"].value == "goto reject-chain"
    # no ready endpoint: the serving terminating one, not the one that stopped serving
    assert chain_rules(rs, "service-", "draining")[-1].endswith("__10.244.2.14/8080 }")
    # the node's own address inside the source ranges lets the VIP itself in
    assert chain_rules(rs, "firewall-", "shop") == (
        "ip saddr != { 198.51.100.0/24 , 192.168.56.0/24 , 203.0.113.10 } drop",)


def test_nodeport_addresses():
    assert nft.nodeport_ips(NODE) == ("192.168.56.11",)          # nftables mode's default: primary IP
    assert nft.nodeport_ips(replace(NODE, node_port_addresses=("0.0.0.0/0",))) is None
    two = replace(NODE, ips=("192.168.56.11", "10.0.2.15", "127.0.0.1"), node_port_addresses=("10.0.0.0/8",
                                                                                              "127.0.0.0/8"))
    assert nft.nodeport_ips(two) == ("10.0.2.15",)                # never loopback
    everywhere = nft.build(CASES[:1], replace(NODE, node_port_addresses=("0.0.0.0/0",)))
    assert "nodeport-ips" not in everywhere.containers
    assert everywhere.chains["services"].rules[1].startswith("fib daddr type local ip daddr != 127.0.0.0/8 ")
    assert "delete set ip kube-proxy nodeport-ips\n" in nft.full_text(everywhere)


def test_full_text_creates_before_it_refers():
    text = nft.full_text(nft.build(CASES, NODE, service_cidrs=("10.96.0.0/12",)))
    lines = text.splitlines()
    assert lines[0] == 'add table ip kube-proxy { comment "rules for kube-proxy" ; }'
    seen: set[str] = set()
    for line in lines:
        words = line.split(" ")
        if words[0] == "add" and words[1] in ("chain", "set", "map"):
            seen.add(words[4])
        words = line.split(" comment ")[0].split(" ")     # comments name no objects
        for ref in [w.lstrip("@") for w in words[5:] if w.startswith("@")] + \
                [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("goto", "jump")]:
            assert ref in seen, f"{ref} used before it is created: {line}"


SERVICES = [SP("ns", f"s{i}", "http", "TCP", 80, f"10.96.1.{i}", endpoints=(ep(f"10.244.2.{i}"), ep(f"10.244.3.{i}")))
            for i in range(1, 6)]


def service_objects(text: str) -> set[str]:
    """The per-service names a transaction touches (chains, sets), by service."""
    return {w.split("/")[1] for w in text.split() if w.count("/") >= 3 and w[0].isalpha()}


def test_one_endpoint_change_touches_that_service_only():
    old = nft.build(SERVICES, NODE)
    moved = replace(SERVICES[2], endpoints=(ep("10.244.2.3"), ep("10.244.4.3")))
    text = nft.changes(old, nft.build([*SERVICES[:2], moved, *SERVICES[3:]], NODE))
    assert service_objects(text) == {"s3"}
    gone = "endpoint-" + hashed("ns/s3/tcp/http__10.244.3.3/8080")
    assert f"flush chain ip kube-proxy {gone}" in text and "delete chain" not in text
    assert nft.removed_chains(old, nft.build([*SERVICES[:2], moved, *SERVICES[3:]], NODE)) == [gone]
    assert "add chain ip kube-proxy endpoint-" + hashed("ns/s3/tcp/http__10.244.4.3/8080") in text
    assert "element" not in text                                  # the service's own map entries stay


def test_removing_a_service_flushes_its_chains_after_its_elements_and_deletes_them_apart():
    old, new = nft.build(SERVICES, NODE), nft.build(SERVICES[1:], NODE)
    lines = nft.changes(old, new).splitlines()
    names = ["service-" + hashed("ns/s1/tcp/http")] + ["endpoint-" + hashed(f"ns/s1/tcp/http__{ip}/8080")
                                                       for ip in ("10.244.2.1", "10.244.3.1")]
    assert sorted(nft.removed_chains(old, new)) == sorted(names)
    flushes = [f"flush chain ip kube-proxy {n}" for n in names]
    assert all(f in lines for f in flushes) and not any(ln.startswith("delete chain") for ln in lines)
    assert "delete element ip kube-proxy service-ips { 10.96.1.1 . tcp . 80 }" in lines
    assert "delete element ip kube-proxy cluster-ips { 10.96.1.1 }" in lines
    assert nft.stale_deletes(names[:1]) == f"add chain ip kube-proxy {names[0]}\ndelete chain ip kube-proxy {names[0]}\n"


def test_no_change_no_transaction_and_none_is_full():
    rs = nft.build(SERVICES, NODE)
    assert nft.changes(rs, nft.build(SERVICES, NODE)) == ""
    assert nft.changes(None, rs) == nft.full_text(rs)


def test_affinity_timeout_change_redeclares_the_set():
    old = nft.build(SERVICES[:1], NODE)
    new = nft.build([replace(SERVICES[0], affinity_seconds=60)], NODE)
    assert nft.changes(old, new).count("add set ip kube-proxy affinity-") == 2
    newer = nft.build([replace(SERVICES[0], affinity_seconds=30)], NODE)
    text = nft.changes(new, newer)
    assert text.index("delete set ip kube-proxy affinity-") < text.index("timeout 30s")
    assert text.index("flush chain ip kube-proxy endpoint-") < text.index("delete set ip kube-proxy affinity-")


def test_canonical_keeps_rule_order_and_sorts_the_rest():
    text = ("add rule ip kube-proxy b second\nadd element ip kube-proxy m { 2 }\n# c\n\n"
            "add rule ip kube-proxy b first\nadd chain ip kube-proxy b\nadd element ip kube-proxy m { 1 }\n")
    assert nft.canonical(text).splitlines() == [
        "add chain ip kube-proxy b", "add rule ip kube-proxy b second", "add rule ip kube-proxy b first",
        "add element ip kube-proxy m { 1 }", "add element ip kube-proxy m { 2 }"]


def test_an_ipv6_service_is_not_this_ip_table_s():
    rs = nft.build([SP("ns", "v6", "", "TCP", 80, "fd00::1", endpoints=(E("fd00::2", 80),))], NODE)
    assert not any("/v6/" in n for n in rs.chains) and rs.elements["cluster-ips"] == {}
