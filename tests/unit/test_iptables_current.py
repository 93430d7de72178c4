"""Today's iptables proxier (netlab.kube_proxy.iptables_current): the rules, checked against
upstream's own expected output, goldens read by eye, and what a kernel printed back."""
import base64
import hashlib
import re
import textwrap
from pathlib import Path

import pytest

import golden_files
import upstream_services
from netlab.kube_proxy import iptables_current as ic
from netlab.kube_proxy import rules, view
from netlab.kube_proxy.view import NodeConfig

E, SP = view.Endpoint, view.ServicePort
GOLDEN = Path(__file__).parent / "golden" / "kube-proxy-current"
LAST = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


def chain(prefix: str, text: str) -> str:
    """kube-proxy's naming, restated: prefix + base32(sha256(text))[:16]."""
    return prefix + base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def lines(tables, table: str) -> list[str]:
    return [r for rs in tables[table].chains.values() for r in rs]


# --- upstream's TestOverallIPTablesRules --------------------------------------------------

UPSTREAM_NODE = NodeConfig("test-node", ("192.168.0.2", "192.168.1.2", "192.168.99.11"), cluster_cidr="10.0.0.0/8")
UPSTREAM_PORTS = upstream_services.PORTS
# kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go, v1.33 era (the version whose fake
# proxier has nfacct counters; see the report of issue 16 for the file version used).
# The test's expected rules, copied into this file (read directly: NETLAB_UPDATE_GOLDEN leaves it alone).
UPSTREAM_EXPECTED = (GOLDEN / "upstream-TestOverallIPTablesRules.rules").read_text()


def test_mirrors_upstream_test_overall_iptables_rules():
    """Mirrors kubernetes/kubernetes TestOverallIPTablesRules (pkg/proxy/iptables/proxier_test.go,
    the v1.33-era version with nfacct counters): its services and endpoint slices, its fake
    proxier's settings (node test-node, pod CIDR 10.0.0.0/8 as the local detector, localhost
    node ports, nfacct counters present, an iptables without --random-fully), compared
    line by line after the same sort. One difference is the fake's, not the proxier's: the
    fake proxier is given the mark "0x4000" literally, NewProxier formats it with %#08x."""
    text = ic.restore_text(ic.build(UPSTREAM_PORTS, UPSTREAM_NODE, random_fully=False, nfacct=True))
    got = ic.canonical(text).replace("0x00004000", "0x4000").splitlines()
    assert got == UPSTREAM_EXPECTED.splitlines()


def test_upstream_chain_names_come_from_the_documented_inputs():
    for spn, name in [("ns1/svc1:p80", "XPGD46QRK7WJZT7O"), ("ns5/svc5:p80", "NUKIZ6OKUXPJNT4C")]:
        assert chain("KUBE-SVC-", spn + "tcp") == "KUBE-SVC-" + name
    assert chain("KUBE-SEP-", "ns5/svc5:p80tcp10.180.0.3:80") == "KUBE-SEP-I77PXRDZVX7PMWMN"


# --- goldens: every kind of service on one node ------------------------------------------

NODE = NodeConfig("node1", ("192.168.0.11",), pod_cidr="10.244.1.0/24", cluster_cidr="10.244.0.0/16")
HERE, THERE = "node1", "node2"
PORTS = [
    SP("default", "kubernetes", "https", "TCP", 443, "10.96.0.1", endpoints=(E("192.168.0.10", 6443),)),
    SP("kube-system", "kube-dns", "dns", "UDP", 53, "10.96.0.10",
       endpoints=(E("10.244.1.2", 53, HERE), E("10.244.2.2", 53, THERE), E("10.244.2.3", 53, THERE))),
    SP("shop", "web", "", "TCP", 80, "10.96.1.1", type="NodePort", node_port=30080,
       endpoints=(E("10.244.1.5", 8080, HERE), E("10.244.2.5", 8080, THERE))),
    SP("shop", "web-local", "http", "TCP", 80, "10.96.1.2", type="NodePort", node_port=30081,
       external_policy_local=True, endpoints=(E("10.244.1.6", 8080, HERE), E("10.244.2.6", 8080, THERE))),
    SP("shop", "lb", "http", "TCP", 80, "10.96.1.3", type="LoadBalancer", node_port=30082,
       load_balancer_ips=("203.0.113.10",), endpoints=(E("10.244.2.7", 8080, THERE),)),
    SP("shop", "lb-ranges", "http", "TCP", 80, "10.96.1.4", type="LoadBalancer", node_port=30083,
       load_balancer_ips=("203.0.113.11",), source_ranges=("198.51.100.0/24", "192.168.0.0/24"),
       endpoints=(E("10.244.1.8", 8080, HERE),)),
    SP("shop", "lb-local", "http", "TCP", 80, "10.96.1.5", type="LoadBalancer", node_port=30084,
       load_balancer_ips=("203.0.113.12",), external_policy_local=True, health_check_node_port=32000,
       endpoints=(E("10.244.2.9", 8080, THERE),)),
    SP("shop", "ext", "http", "TCP", 80, "10.96.1.6", external_ips=("192.168.0.200",),
       endpoints=(E("10.244.1.10", 8080, HERE),)),
    SP("shop", "sticky", "http", "TCP", 80, "10.96.1.7", affinity_seconds=10800,
       endpoints=(E("10.244.1.11", 8080, HERE), E("10.244.2.11", 8080, THERE))),
    SP("shop", "itp-local", "http", "TCP", 80, "10.96.1.8", internal_policy_local=True,
       endpoints=(E("10.244.1.12", 8080, HERE), E("10.244.2.12", 8080, THERE))),
    SP("shop", "itp-elsewhere", "http", "TCP", 80, "10.96.1.9", internal_policy_local=True,
       endpoints=(E("10.244.2.13", 8080, THERE),)),
    SP("shop", "empty", "http", "TCP", 80, "10.96.1.10", type="LoadBalancer", node_port=30085,
       load_balancer_ips=("203.0.113.13",), external_ips=("192.168.0.201",)),
    SP("shop", "draining", "http", "TCP", 80, "10.96.1.11", type="NodePort", node_port=30086,
       external_policy_local=True,
       endpoints=(E("10.244.1.14", 8080, HERE, ready=False, serving=True, terminating=True),
                  E("10.244.2.14", 8080, THERE, ready=False, serving=True, terminating=True),
                  E("10.244.2.15", 8080, THERE, ready=False, serving=False, terminating=True))),
    SP("shop", "starting", "http", "TCP", 80, "10.96.1.12",
       endpoints=(E("10.244.2.16", 8080, THERE, ready=False, serving=False),)),
    SP("telecom", "sctp", "sig", "SCTP", 3868, "10.96.2.1", endpoints=(E("10.244.1.20", 3868, HERE),)),
]
RESTRICTED = NodeConfig("node1", ("192.168.0.11", "10.0.5.11"), localhost_nodeports=False, masquerade_bit=15,
                        node_port_addresses=("192.168.0.0/24", "127.0.0.0/8", "fd00::/64"))


def test_golden_restore_text_of_every_kind_of_service():
    golden_files.check(GOLDEN / "node1.rules", ic.restore_text(ic.build(PORTS, NODE)))


def test_golden_restricted_node_no_local_detector():
    """--nodeport-addresses, no localhost node ports, mark bit 15, no --cluster-cidr/pod CIDR,
    a node with nf_conntrack_tcp_be_liberal set."""
    tables = ic.build(PORTS, RESTRICTED, tcp_be_liberal=True)
    golden_files.check(GOLDEN / "node1-restricted.rules", ic.restore_text(tables))


def test_golden_canonical_form():
    golden_files.check(GOLDEN / "node1-canonical.rules", ic.canonical(ic.restore_text(ic.build(PORTS, NODE))))


# --- behaviour, line by line -----------------------------------------------------------

@pytest.fixture(scope="module")
def node1():
    return ic.build(PORTS, NODE)


def test_chain_names_hash_todays_service_port_name(node1):
    nat = node1["nat"].chains
    assert chain("KUBE-SVC-", "shop/webtcp") in nat                    # unnamed port: no colon
    assert chain("KUBE-SVC-", "shop/web:tcp") not in nat
    local = "shop/web-local:httptcp"
    assert chain("KUBE-EXT-", local) in nat and chain("KUBE-SVL-", local) in nat
    assert chain("KUBE-FW-", "shop/lb-ranges:httptcp") in nat
    assert chain("KUBE-SVC-", "kube-system/kube-dns:dnsudp") in nat
    assert chain("KUBE-SEP-", "kube-system/kube-dns:dnsudp10.244.2.3:53") in nat
    assert chain("KUBE-SVC-", "telecom/sctp:sigsctp") in nat


def test_chains_are_declared_in_kube_proxys_order(node1):
    spn = "shop/web-local:httptcp"
    nat = list(node1["nat"].chains)
    assert nat[:4] == ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    i = nat.index(chain("KUBE-EXT-", spn))
    assert nat[i:i + 3] == [chain("KUBE-EXT-", spn), chain("KUBE-SVC-", spn), chain("KUBE-SVL-", spn)]
    assert list(node1["filter"].chains) == ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                                            "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"]


def test_restore_text_is_the_lines_in_write_order_filter_first(node1):
    text = ic.restore_text(node1)
    assert text.startswith("*filter\n:KUBE-SERVICES - [0:0]\n") and text.endswith("\nCOMMIT\n")
    assert text.count("COMMIT\n") == 2 and text.index("*nat\n") > text.index("*filter\n")
    # per service: the KUBE-SERVICES jump comes before that service's own chains' rules
    body = text.splitlines()
    svc = chain("KUBE-SVC-", "default/kubernetes:httpstcp")
    assert body.index(f"-A KUBE-SERVICES -m comment --comment \"default/kubernetes:https cluster IP\" -m tcp -p tcp "
                      f"-d 10.96.0.1 --dport 443 -j {svc}") < next(i for i, r in enumerate(body)
                                                                  if r.startswith(f"-A {svc} "))


def test_plain_table_without_write_order_restores_chain_by_chain():
    t = rules.Table("filter", chains={"KUBE-FORWARD": ["-A KUBE-FORWARD -j ACCEPT"]})
    n = rules.Table("nat", chains={"KUBE-SERVICES": []})
    assert ic.restore_text({"filter": t, "nat": n}) == ("*filter\n:KUBE-FORWARD - [0:0]\n-A KUBE-FORWARD -j ACCEPT\n"
                                                         "COMMIT\n*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n")


def test_masquerade_mark_is_gos_percent_hash_08x():
    assert ic.go_mark(14) == "0x00004000" and ic.go_mark(0) == "0x00000001" and ic.go_mark(31) == "0x80000000"
    nat = lines(ic.build([], RESTRICTED), "nat")
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000" in nat
    assert "-A KUBE-POSTROUTING -m mark ! --mark 0x00008000/0x00008000 -j RETURN" in nat
    assert "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00008000" in nat


def test_local_detector_from_pod_cidr_first(node1):
    nat = lines(node1, "nat")
    assert any(r.endswith("! -s 10.244.1.0/24 -j KUBE-MARK-MASQ") for r in nat)
    assert not any("10.244.0.0/16" in r for r in nat)


def test_no_local_detector_no_masquerade_of_off_cluster_clients_and_no_pod_short_circuit():
    nat = lines(ic.build(PORTS, RESTRICTED), "nat")
    assert not any("! -s" in r or "pod traffic for" in r for r in nat)
    spn = "shop/web-local:http"
    assert f'-A {chain("KUBE-EXT-", spn + "tcp")} -m comment --comment "route LOCAL traffic for {spn} ' \
           f'external destinations" -m addrtype --src-type LOCAL -j {chain("KUBE-SVC-", spn + "tcp")}' in nat


def test_masquerade_all_marks_every_cluster_ip_connection():
    nat = lines(ic.build(PORTS[:1], NODE, masquerade_all=True), "nat")
    svc = chain("KUBE-SVC-", "default/kubernetes:httpstcp")
    assert (f'-A {svc} -m comment --comment "default/kubernetes:https cluster IP" -m tcp -p tcp -d 10.96.0.1 '
            "--dport 443 -j KUBE-MARK-MASQ") in nat


def test_node_ports_on_listed_addresses_only():
    nat = lines(ic.build(PORTS, RESTRICTED), "nat")
    last = [r for r in nat if "must be the last rule" in r]
    # 127.0.0.1 is in a listed CIDR, but localhost node ports are off; 10.0.5.11 is in none
    assert last == ['-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
                    'the last rule in this chain" -d 192.168.0.11 -j KUBE-NODEPORTS']
    assert ic.build(PORTS, RESTRICTED)["nat"].lines[-1] == last[0]


def test_localhost_node_ports_with_listed_loopback():
    node = NodeConfig("node1", ("192.168.0.11",), node_port_addresses=("127.0.0.0/8", "192.168.0.0/16"))
    tables = ic.build([], node)
    targets = [r.split(" -d ")[1] for r in lines(tables, "nat") if "must be the last rule" in r]
    assert targets == ["127.0.0.1 -j KUBE-NODEPORTS", "192.168.0.11 -j KUBE-NODEPORTS"]
    assert "KUBE-FIREWALL" in tables["filter"].chains


def test_listed_addresses_without_loopback_turn_localhost_node_ports_off():
    node = NodeConfig("node1", ("192.168.0.11",), node_port_addresses=("192.168.0.0/24",))
    tables = ic.build([], node)
    assert "KUBE-FIREWALL" not in tables["filter"].chains
    assert not any("127.0.0.0/8" in r for r in lines(tables, "filter"))


def test_all_addresses_but_not_localhost():
    node = NodeConfig("node1", ("192.168.0.11",), localhost_nodeports=False)
    tables = ic.build([], node)
    assert tables["nat"].lines[-1] == ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; '
                                        'NOTE: this must be the last rule in this chain" -m addrtype --dst-type '
                                        "LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS")
    assert "KUBE-FIREWALL" not in tables["filter"].chains


def test_zero_cidr_among_node_port_addresses_means_all():
    node = NodeConfig("node1", ("192.168.0.11",), node_port_addresses=("192.168.0.0/24", "0.0.0.0/0"))
    assert ic.build([], node)["nat"].lines[-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")


def test_forward_chain_and_its_invalid_drop(node1):
    fwd = node1["filter"].chains["KUBE-FORWARD"]
    assert fwd == [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 '
        "-j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
        "RELATED,ESTABLISHED -j ACCEPT",
    ]
    liberal = ic.build([], NODE, tcp_be_liberal=True)["filter"].chains["KUBE-FORWARD"]
    assert len(liberal) == 2 and not any("INVALID" in r for r in liberal)


def test_random_fully_when_iptables_has_it(node1):
    assert node1["nat"].chains["KUBE-POSTROUTING"][-1].endswith("-j MASQUERADE --random-fully")
    assert ic.build([], NODE, random_fully=False)["nat"].chains["KUBE-POSTROUTING"][-1].endswith("-j MASQUERADE")


def test_probabilities_have_ten_decimals(node1):
    svc = node1["nat"].chains[chain("KUBE-SVC-", "kube-system/kube-dns:dnsudp")]
    chances = [re.search(r"--probability (\S+)", r) for r in svc]
    assert [m.group(1) if m else None for m in chances] == [None, "0.3333333333", "0.5000000000", None]


def test_affinity_checks_then_balances_and_each_endpoint_remembers(node1):
    spn = "shop/sticky:http"
    svc = node1["nat"].chains[chain("KUBE-SVC-", spn + "tcp")]
    seps = [chain("KUBE-SEP-", f"{spn}tcp{ip}:8080") for ip in ("10.244.1.11", "10.244.2.11")]
    assert [r.split(" -m comment ")[1] for r in svc[1:]] == [
        f'--comment "{spn} -> 10.244.1.11:8080" -m recent --name {seps[0]} --rcheck --seconds 10800 --reap '
        f"-j {seps[0]}",
        f'--comment "{spn} -> 10.244.2.11:8080" -m recent --name {seps[1]} --rcheck --seconds 10800 --reap '
        f"-j {seps[1]}",
        f'--comment "{spn} -> 10.244.1.11:8080" -m statistic --mode random --probability 0.5000000000 -j {seps[0]}',
        f'--comment "{spn} -> 10.244.2.11:8080" -j {seps[1]}',
    ]
    assert node1["nat"].chains[seps[1]][1] == (f"-A {seps[1]} -m comment --comment {spn} -m recent --name {seps[1]} "
                                               "--set -m tcp -p tcp -j DNAT --to-destination 10.244.2.11:8080")


def test_no_endpoints_rejects_cluster_ip_external_ip_lb_and_node_port(node1):
    spn = "shop/empty:http"
    filt = [r for r in lines(node1, "filter") if spn in r]
    assert filt == [
        f'-A KUBE-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 10.96.1.10 --dport 80 '
        "-j REJECT",
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 192.168.0.201 '
        "--dport 80 -j REJECT",
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 203.0.113.13 '
        "--dport 80 -j REJECT",
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m addrtype --dst-type LOCAL '
        "-m tcp -p tcp --dport 30085 -j REJECT",
    ]
    assert not any(spn in r for r in lines(node1, "nat"))
    assert not any(spn + "tcp" in c for c in node1["nat"].chains)


def test_not_ready_not_serving_endpoints_count_as_none(node1):
    assert any('"shop/starting:http has no endpoints"' in r for r in lines(node1, "filter"))
    assert chain("KUBE-SVC-", "shop/starting:httptcp") not in node1["nat"].chains


def test_internal_policy_local(node1):
    spn = "shop/itp-local:http"
    svl = chain("KUBE-SVL-", spn + "tcp")
    sep_here = chain("KUBE-SEP-", spn + "tcp10.244.1.12:8080")
    assert node1["nat"].chains[svl] == [
        f'-A {svl} -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.1.8 --dport 80 '
        "! -s 10.244.1.0/24 -j KUBE-MARK-MASQ",
        f'-A {svl} -m comment --comment "{spn} -> 10.244.1.12:8080" -j {sep_here}',
    ]
    assert chain("KUBE-SVC-", spn + "tcp") not in node1["nat"].chains       # no cluster chain: never used
    assert chain("KUBE-SEP-", spn + "tcp10.244.2.12:8080") not in node1["nat"].chains
    gone = "shop/itp-elsewhere:http"
    assert (f'-A KUBE-SERVICES -m comment --comment "{gone} has no local endpoints" -m tcp -p tcp -d 10.96.1.9 '
            "--dport 80 -j DROP") in lines(node1, "filter")


def test_external_policy_local_without_local_endpoints(node1):
    spn = "shop/lb-local:http"
    ext = chain("KUBE-EXT-", spn + "tcp")
    rules_ = node1["nat"].chains[ext]
    assert [r.split(" -j ")[-1] for r in rules_] == [chain("KUBE-SVC-", spn + "tcp"), "KUBE-MARK-MASQ",
                                                     chain("KUBE-SVC-", spn + "tcp")]   # no jump to the empty SVL
    assert chain("KUBE-SVL-", spn + "tcp") not in node1["nat"].chains
    filt = [r for r in lines(node1, "filter") if spn in r]
    assert [r.split(" -j ")[-1] for r in filt] == ["DROP", "DROP", "ACCEPT"]
    assert filt[-1] == (f'-A KUBE-NODEPORTS -m comment --comment "{spn} health check node port" -m tcp -p tcp '
                        "--dport 32000 -j ACCEPT")


def test_health_check_node_port_only_for_load_balancer_with_local_policy():
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", type="NodePort", node_port=30001, external_policy_local=True,
            health_check_node_port=32001, endpoints=(E("10.244.1.2", 80, "node1"),))
    assert not any("health check" in r for r in lines(ic.build([sp], NODE), "filter"))


def test_load_balancer_source_ranges(node1):
    spn = "shop/lb-ranges:http"
    fw, ext = chain("KUBE-FW-", spn + "tcp"), chain("KUBE-EXT-", spn + "tcp")
    assert node1["nat"].chains[fw] == [
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 198.51.100.0/24 -j {ext}',
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 192.168.0.0/24 -j {ext}',
        # the node's own address is in a range: the node reaching the VIP it holds comes from the VIP
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 203.0.113.11 -j {ext}',
        f'-A {fw} -m comment --comment "other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"',
    ]
    assert node1["filter"].chains["KUBE-PROXY-FIREWALL"] == [
        f'-A KUBE-PROXY-FIREWALL -m comment --comment "{spn} traffic not accepted by {fw}" -m tcp -p tcp '
        "-d 203.0.113.11 --dport 80 -j DROP"]


@pytest.mark.parametrize("ranges", [("0.0.0.0/0",), ("10.0.0.0/8", "0.0.0.0/0"), ("fd00::/8",)])
def test_source_ranges_that_restrict_nothing_make_no_firewall(ranges):
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", type="LoadBalancer", node_port=30001,
            load_balancer_ips=("203.0.113.1",), source_ranges=ranges, endpoints=(E("10.244.1.2", 80),))
    tables = ic.build([sp], NODE)
    assert not any(c.startswith("KUBE-FW-") for c in tables["nat"].chains)
    assert tables["filter"].chains["KUBE-PROXY-FIREWALL"] == []


def test_source_range_host_bits_are_cleared():
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", type="LoadBalancer", node_port=30001,
            load_balancer_ips=("203.0.113.1",), source_ranges=("198.51.100.77/24 ",),
            endpoints=(E("10.244.1.2", 80),))
    assert any("-s 198.51.100.0/24 -j KUBE-EXT-" in r for r in lines(ic.build([sp], NODE), "nat"))


@pytest.mark.parametrize("ready,serving,terminating,used", [
    (True, True, False, True), (False, True, True, True), (False, False, True, False), (False, True, False, False)])
def test_categorize_falls_back_to_serving_terminating(ready, serving, terminating, used):
    e = E("10.244.1.2", 80, "node1", ready=ready, serving=serving, terminating=terminating)
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", endpoints=(e,))
    cluster, local, reachable, has_any = ic.categorize([e], sp, "node1")
    assert (cluster, reachable, has_any) == (([e], [e], True) if used else ([], [], False))
    assert local == []                                   # policy Cluster: Local endpoints not used


def test_categorize_prefers_ready_and_merges_terminating_local_ones():
    ready_there = E("10.244.2.2", 80, "node2")
    draining_here = E("10.244.1.2", 80, "node1", ready=False, serving=True, terminating=True)
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", type="NodePort", node_port=30001, external_policy_local=True)
    cluster, local, reachable, has_any = ic.categorize([draining_here, ready_there], sp, "node1")
    assert (cluster, local, reachable, has_any) == ([ready_there], [draining_here],
                                                    [ready_there, draining_here], True)


def test_terminating_only_endpoints_are_used_when_none_is_ready(node1):
    spn = "shop/draining:http"
    svl = chain("KUBE-SVL-", spn + "tcp")
    sep = chain("KUBE-SEP-", spn + "tcp10.244.1.14:8080")
    assert node1["nat"].chains[svl] == [f'-A {svl} -m comment --comment "{spn} -> 10.244.1.14:8080" -j {sep}']
    svc = node1["nat"].chains[chain("KUBE-SVC-", spn + "tcp")]
    assert [r.split('"')[1] for r in svc] == [f"{spn} cluster IP", f"{spn} -> 10.244.1.14:8080",
                                               f"{spn} -> 10.244.2.14:8080"]     # not the non-serving one


def test_large_cluster_mode_drops_endpoint_comments_over_1000_endpoints():
    def ports(n):
        return [SP("big", f"s{i}", "", "TCP", 80, f"10.96.{i // 250}.{i % 250 + 1}",
                   endpoints=tuple(E(f"10.244.{i // 250}.{i % 250 + 1}", 8000 + j) for j in range(10)))
                for i in range(n)]
    sep = chain("KUBE-SEP-", "big/s0tcp10.244.0.1:8000")
    at_limit = ic.build(ports(100), NODE)["nat"].chains[sep]          # exactly 1000 endpoints
    assert at_limit[0] == f"-A {sep} -m comment --comment big/s0 -s 10.244.0.1 -j KUBE-MARK-MASQ"
    over = ic.build(ports(101), NODE)["nat"]
    assert over.chains[sep] == [f"-A {sep} -s 10.244.0.1 -j KUBE-MARK-MASQ",
                                f"-A {sep} -m tcp -p tcp -j DNAT --to-destination 10.244.0.1:8000"]
    svc = over.chains[chain("KUBE-SVC-", "big/s0tcp")]
    assert svc[1] == (f"-A {chain('KUBE-SVC-', 'big/s0tcp')} -m statistic --mode random --probability "
                      f"0.1000000000 -j {sep}")
    assert svc[0].startswith(f'-A {chain("KUBE-SVC-", "big/s0tcp")} -m comment --comment "big/s0 cluster IP"')


def test_nfacct_counters_when_kube_proxy_could_create_them():
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", type="NodePort", node_port=30001,
            endpoints=(E("10.244.1.2", 80),))
    tables = ic.build([sp], NODE, nfacct=True)
    assert tables["nat"].chains["KUBE-NODEPORTS"][0] == (
        f"-A KUBE-NODEPORTS -m comment --comment a/b -m tcp -p tcp -d 127.0.0.0/8 --dport 30001 -m nfacct "
        f"--nfacct-name localhost_nps_accepted_pkts -j {chain('KUBE-EXT-', 'a/btcp')}")
    restricted = ic.build([sp], RESTRICTED, nfacct=True)           # no localhost node ports: no counting
    assert len(restricted["nat"].chains["KUBE-NODEPORTS"]) == 1


def test_caller_order_of_service_ports_is_kept():
    a = SP("z", "last-name", "", "TCP", 80, "10.96.0.9", endpoints=(E("10.244.1.2", 80),))
    b = SP("a", "first-name", "", "TCP", 80, "10.96.0.8", endpoints=(E("10.244.1.3", 80),))
    order = [r.split('"')[1] for r in ic.build([a, b], NODE)["nat"].chains["KUBE-SERVICES"][:2]]
    assert order == ["z/last-name cluster IP", "a/first-name cluster IP"]


def test_headless_and_external_name_ports_are_skipped():
    headless = SP("a", "h", "", "TCP", 80, "None", endpoints=(E("10.244.1.2", 80),))
    named = SP("a", "x", "", "TCP", 80, "", type="ExternalName")
    assert ic.build([headless, named], NODE)["nat"].chains["KUBE-SERVICES"] == [ic.build([], NODE)["nat"].lines[-1]]


def test_duplicate_endpoints_are_one_chain():
    sp = SP("a", "b", "", "TCP", 80, "10.96.0.5", endpoints=(E("10.244.1.2", 80), E("10.244.1.2", 80)))
    nat = ic.build([sp], NODE)["nat"]
    assert nat.chains[chain("KUBE-SVC-", "a/btcp")][1:] == [
        f'-A {chain("KUBE-SVC-", "a/btcp")} -m comment --comment "a/b -> 10.244.1.2:80" '
        f'-j {chain("KUBE-SEP-", "a/btcp10.244.1.2:80")}']


# --- the jumps into kube-proxy's chains --------------------------------------------------

def test_jumps_as_on_a_node_whose_kubelet_came_first(node1):
    assert node1["filter"].jumps == {
        "INPUT": [
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
            "-j KUBE-PROXY-FIREWALL",
            '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
            "-j KUBE-EXTERNAL-SERVICES",
            "-A INPUT -j KUBE-FIREWALL",
        ],
        "FORWARD": [
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
            "-j KUBE-PROXY-FIREWALL",
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service '
            'portals" -j KUBE-EXTERNAL-SERVICES',
        ],
        "OUTPUT": [
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
            "-j KUBE-PROXY-FIREWALL",
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            "-A OUTPUT -j KUBE-FIREWALL",
        ],
    }
    assert node1["nat"].jumps == {
        "OUTPUT": ['-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
        "PREROUTING": ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
        "POSTROUTING": ['-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
    }


# --- canonical: upstream's sort ----------------------------------------------------------

def test_canonical_sorts_chains_and_the_two_entry_chains_by_service():
    text = textwrap.dedent("""\
        *nat
        :KUBE-SERVICES - [0:0]
        :OTHER - [0:0]
        :KUBE-SVC-B - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-SVC-A - [0:0]
        -A KUBE-SERVICES -m comment --comment {LAST} -j KUBE-NODEPORTS
        -A KUBE-SERVICES -m comment --comment "ns2/b:p cluster IP" -j KUBE-SVC-B
        -A KUBE-SVC-B -m comment --comment "second" -j X
        -A KUBE-SVC-B -m comment --comment "first" -j X
        -A KUBE-SERVICES -m comment --comment "ns1/a cluster IP" -j KUBE-SVC-A
        -A KUBE-NODEPORTS -m comment --comment ns2/b:p -j KUBE-SVC-B
        -A KUBE-NODEPORTS -m comment --comment ns1/a -j KUBE-SVC-A
        -A KUBE-SERVICES -m comment --comment "ns1/a external IP" -j KUBE-SVC-A
        COMMIT
        *filter
        :KUBE-SERVICES - [0:0]
        COMMIT
        """)
    assert ic.canonical(text.format(LAST=LAST)) == textwrap.dedent("""\
        *filter
        :KUBE-SERVICES - [0:0]
        COMMIT
        *nat
        :KUBE-NODEPORTS - [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-SVC-A - [0:0]
        :KUBE-SVC-B - [0:0]
        :OTHER - [0:0]
        -A KUBE-NODEPORTS -m comment --comment ns1/a -j KUBE-SVC-A
        -A KUBE-NODEPORTS -m comment --comment ns2/b:p -j KUBE-SVC-B
        -A KUBE-SERVICES -m comment --comment "ns1/a cluster IP" -j KUBE-SVC-A
        -A KUBE-SERVICES -m comment --comment "ns1/a external IP" -j KUBE-SVC-A
        -A KUBE-SERVICES -m comment --comment "ns2/b:p cluster IP" -j KUBE-SVC-B
        -A KUBE-SERVICES -m comment --comment {LAST} -j KUBE-NODEPORTS
        -A KUBE-SVC-B -m comment --comment "second" -j X
        -A KUBE-SVC-B -m comment --comment "first" -j X
        COMMIT
        """).format(LAST=LAST)


@pytest.mark.parametrize("text,message", [
    ("-A KUBE-SERVICES -j X\n", "outside a table"),
    ("*nat\n-A KUBE-SVC-X -j Y\nCOMMIT\n", "rule of an undeclared chain"),
    ("*nat\n-X KUBE-SVC-X\nCOMMIT\n", "not a chain or rule line"),
])
def test_canonical_refuses_what_it_cannot_sort(text, message):
    with pytest.raises(ValueError, match=message):
        ic.canonical(text)


# --- what the kernel prints back ----------------------------------------------------------

KERNEL_NODE = NodeConfig("test-node", ("192.168.0.2",), cluster_cidr="10.0.0.0/8")
KERNEL_PORTS = UPSTREAM_PORTS + [
    SP("ns7", "dns", "dns", "UDP", 53, "172.30.0.10",
       endpoints=(E("10.0.1.2", 53), E("10.0.1.3", 53), E("10.0.1.4", 53))),
    SP("ns8", "sctp", "", "SCTP", 9999, "172.30.0.11",
       endpoints=(E("10.0.1.5", 9999, serving=True, ready=False, terminating=True),)),
]


def test_as_saved_is_what_iptables_save_printed_for_every_rule():
    """observed-nft-save.txt: iptables-nft-save after the jumps and restore_text of KERNEL_PORTS
    went into a scratch namespace (iptables-legacy-save printed the same rules)."""
    saved = [r for r in (GOLDEN / "observed-nft-save.txt").read_text().splitlines() if r.startswith("-A ")]
    tables = ic.build(KERNEL_PORTS, KERNEL_NODE)
    ours = [r for t in ("filter", "nat") for r in tables[t].lines]
    ours += [r for t in ("filter", "nat") for rs in tables[t].jumps.values() for r in rs]
    assert sorted(map(ic.as_saved, ours)) == sorted(saved)


@pytest.mark.parametrize("line,saved", [
    ("-A KUBE-SEP-X -m comment --comment ns/s:p -s 10.1.2.3 -j KUBE-MARK-MASQ",
     '-A KUBE-SEP-X -s 10.1.2.3/32 -m comment --comment "ns/s:p" -j KUBE-MARK-MASQ'),
    ('-A KUBE-SVC-X -m comment --comment "a b" -m tcp -p tcp -d 10.0.0.1 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
     '-A KUBE-SVC-X ! -s 10.0.0.0/8 -d 10.0.0.1/32 -p tcp -m comment --comment "a b" -m tcp --dport 80 '
     "-j KUBE-MARK-MASQ"),
    ("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x8000/0x8000"),
    ("-A KUBE-POSTROUTING -j MARK --xor-mark 0x00008000", "-A KUBE-POSTROUTING -j MARK --set-xmark 0x8000/0x0"),
    ("-A KUBE-SVC-X -m statistic --mode random --probability 0.2500000000 -j Y",
     "-A KUBE-SVC-X -m statistic --mode random --probability 0.25000000000 -j Y"),
])
def test_as_saved_examples(line, saved):
    assert ic.as_saved(line) == saved


# --- rules.py reads today's chains as kube-proxy's ----------------------------------------

@pytest.mark.parametrize("name", ["KUBE-EXT-GNZBNJ2PO5MGZ6GT", "KUBE-SVL-GNZBNJ2PO5MGZ6GT", "KUBE-PROXY-FIREWALL",
                                  "KUBE-PROXY-CANARY", "KUBE-FIREWALL", "KUBE-NODEPORTS", "KUBE-MARK-MASQ"])
def test_todays_chains_are_ours(name):
    assert rules.is_ours(name)


def test_read_save_of_a_real_save_puts_todays_chains_and_jumps_with_ours():
    saved = rules.read_save((GOLDEN / "observed-nft-save.txt").read_text())
    assert "KUBE-PROXY-FIREWALL" in saved.ours["filter"].chains
    assert "KUBE-EXT-GNZBNJ2PO5MGZ6GT" in saved.ours["nat"].chains
    assert len(saved.ours["filter"].jumps["INPUT"]) == 4
    assert saved.foreign == {"nat": {}, "filter": {}}
