"""kube-proxy rules: probabilities, the seed's rules, every service feature, golden files."""
import base64
import hashlib
from pathlib import Path

import pytest

import golden_files

from netlab.errors import ModelError
from netlab.kube_proxy import (
    as_saved, build, diff, parse_save, probability, render, restore_input,
    saved_probability, to_text,
)
from netlab.kube_proxy.rules import build_nodes, quote
from netlab.model.objects import (
    Cluster, EndpointAddress, EndpointPort, Endpoints, Node, Pod, Service, ServicePort,
)
from netlab.model.seed import seed_cluster

GOLDEN = Path(__file__).parent / "golden"


def h(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def svc_chain(spn, proto="tcp"):
    return "KUBE-SVC-" + h(spn + proto)


def sep_chain(spn, endpoint, proto="tcp"):
    return "KUBE-SEP-" + h(spn + proto + endpoint)


def xlb_chain(spn, proto="tcp"):
    return "KUBE-XLB-" + h(spn + proto)


def fw_chain(spn, proto="tcp"):
    return "KUBE-FW-" + h(spn + proto)


def nat(cluster, node="node1", **kw):
    return build(cluster, node, **kw)["nat"].chains


def filt(cluster, node="node1", **kw):
    return build(cluster, node, **kw)["filter"].chains


# --- probabilities ------------------------------------------------------------------

@pytest.mark.parametrize("n,precision,text", [
    (2, 5, "0.50000"), (3, 5, "0.33333"), (4, 5, "0.25000"), (6, 5, "0.16667"), (7, 5, "0.14286"),
    (3, 10, "0.3333333333"), (6, 10, "0.1666666667"), (7, 10, "0.1428571429"),
])
def test_probability_strings(n, precision, text):
    assert probability(n, precision) == text


# What iptables-save printed on real clusters after restoring these strings.
@pytest.mark.parametrize("written,saved", [
    ("0.33333", "0.33332999982"), ("0.20000", "0.20000000019"), ("0.25000", "0.25000000000"),
    ("0.50000", "0.50000000000"), ("0.3333333333", "0.33333333349"),
])
def test_saved_probability_matches_real_iptables_save(written, saved):
    assert saved_probability(written) == saved


@pytest.mark.parametrize("written", ["0.14286", "0.1428571429", "0.01000", "0.99999", "1.00000", "0.00000"])
def test_saved_probability_is_the_nearest_31_bit_fraction(written):
    stored = round(float(written) * 2 ** 31)
    assert saved_probability(written) == f"{stored / 2 ** 31:.11f}"
    assert abs(float(saved_probability(written)) - float(written)) <= 2 ** -32 + 1e-11


def test_as_saved_changes_only_the_probability():
    line = '-A KUBE-SVC-X -m comment --comment "a/b:" -m statistic --mode random --probability 0.33333 -j KUBE-SEP-Y'
    assert as_saved(line) == line.replace("0.33333", "0.33332999982")
    assert as_saved("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000") == \
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"


def test_comments_are_quoted_as_iptables_save_does():
    assert quote("default/mysql:") == '"default/mysql:"'
    assert quote("kubernetes service portals") == '"kubernetes service portals"'
    assert quote("plain_word-1") == "plain_word-1"


# --- the seed (SEED.md sections 4 and 5) ---------------------------------------------------

DP = "default/data-product:data-product"
DP_EPS = ["172.30.76.3:50051", "172.30.76.5:50051", "172.30.9.2:50051"]   # sorted as the controller does


def test_seed_cluster_ip_rules_with_cluster_cidr_masquerade():
    # the walk-through's kube-proxy had the service network as its --cluster-cidr
    rules = nat(seed_cluster())["KUBE-SERVICES"]
    head = f'-d 10.254.116.224/32 -p tcp -m comment --comment "{DP} cluster IP" -m tcp --dport 50051'
    assert f"-A KUBE-SERVICES ! -s 10.254.0.0/16 {head} -j KUBE-MARK-MASQ" in rules
    assert f"-A KUBE-SERVICES {head} -j {svc_chain(DP)}" in rules
    assert f"! -s 172.30.0.0/16 {head}" in " ".join(nat(seed_cluster(), cluster_cidr="172.30.0.0/16")["KUBE-SERVICES"])


WALKTHROUGH = Path(__file__).parents[1] / "data" / "walkthrough-iptables.txt"


def walkthrough_lines() -> list[str]:
    return [line for line in WALKTHROUGH.read_text().splitlines() if line.startswith("-A ")]


def saved_lines(cluster, node: str) -> set[str]:
    """The node's rules as iptables-save prints them back (the probabilities as the kernel keeps them)."""
    return {as_saved(line) for line in to_text(build(cluster, node)).splitlines()}


@pytest.mark.parametrize("node", ["node1", "node2"])
def test_every_rule_line_the_walk_through_prints_is_the_seeds(node):
    """Byte for byte, after iptables-save's canonical form; the kube-dns REJECT lines were
    printed while kube-dns had no endpoints."""
    lines = walkthrough_lines()
    assert len(lines) == 21
    ready, no_dns = seed_cluster(), seed_cluster()
    for p in no_dns.pods:
        if p.name.startswith("kube-dns"):
            p.ready = False
    have, have_no_dns = saved_lines(ready, node), saved_lines(no_dns, node)
    missing = [line for line in lines if line not in (have_no_dns if "kube-dns" in line else have)]
    assert missing == []
    assert not any("kube-dns" in line and line in have for line in lines)    # REJECT only without endpoints


def test_seed_data_product_balances_three_endpoints():
    # the walk-through's kube-proxy wrote KUBE-SVC-*/KUBE-SEP-* rules without their comment
    assert nat(seed_cluster())[svc_chain(DP)] == [
        f'-A {svc_chain(DP)} -m statistic --mode random --probability 0.33333 -j {sep_chain(DP, DP_EPS[0])}',
        f'-A {svc_chain(DP)} -m statistic --mode random --probability 0.50000 -j {sep_chain(DP, DP_EPS[1])}',
        f'-A {svc_chain(DP)} -j {sep_chain(DP, DP_EPS[2])}',
    ]


def test_seed_endpoint_chain_hairpin_then_dnat():
    chain = sep_chain(DP, "172.30.9.2:50051")
    assert nat(seed_cluster())[chain] == [
        f'-A {chain} -s 172.30.9.2/32 -j KUBE-MARK-MASQ',
        f'-A {chain} -p tcp -m tcp -j DNAT --to-destination 172.30.9.2:50051',
    ]


def test_ten_decimals_write_the_comments_as_later_kube_proxies():
    """kube-proxy v1.14 on returned the commented rule (and v1.17 on wrote ten decimals)."""
    c = seed_cluster()
    chains = nat(c, precision=10)
    assert chains[svc_chain(DP)] == [
        f'-A {svc_chain(DP)} -m comment --comment "{DP}" -m statistic --mode random --probability 0.3333333333 '
        f'-j {sep_chain(DP, DP_EPS[0])}',
        f'-A {svc_chain(DP)} -m comment --comment "{DP}" -m statistic --mode random --probability 0.5000000000 '
        f'-j {sep_chain(DP, DP_EPS[1])}',
        f'-A {svc_chain(DP)} -m comment --comment "{DP}" -j {sep_chain(DP, DP_EPS[2])}',
    ]
    chain = sep_chain(DP, "172.30.9.2:50051")
    assert chains[chain] == [
        f'-A {chain} -s 172.30.9.2/32 -m comment --comment "{DP}" -j KUBE-MARK-MASQ',
        f'-A {chain} -p tcp -m comment --comment "{DP}" -m tcp -j DNAT --to-destination 172.30.9.2:50051',
    ]


def test_seed_business_manager_dnats_to_target_port():
    spn = "default/business-manager:business-manager"
    chain = sep_chain(spn, "172.30.76.6:8080")
    assert nat(seed_cluster())[chain][-1].endswith("-j DNAT --to-destination 172.30.76.6:8080")
    assert f'-d 10.254.80.22/32 -p tcp -m comment --comment "{spn} cluster IP" -m tcp --dport 80 -j {svc_chain(spn)}' \
        in " ".join(nat(seed_cluster())["KUBE-SERVICES"])


def test_seed_kube_dns_udp_and_tcp():
    chains = nat(seed_cluster())
    assert svc_chain("kube-system/kube-dns:dns", "udp") == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert chains["KUBE-SVC-TCOU7JCQXEZGVUNU"] == [
        f'-A KUBE-SVC-TCOU7JCQXEZGVUNU -j {sep_chain("kube-system/kube-dns:dns", "172.30.9.4:53", "udp")}']
    sep = sep_chain("kube-system/kube-dns:dns", "172.30.9.4:53", "udp")
    assert chains[sep][1] == f"-A {sep} -p udp -m udp -j DNAT --to-destination 172.30.9.4:53"


def test_seed_mysql_goes_to_the_db_host():
    spn = "default/mysql:"
    sep = sep_chain(spn, "192.168.0.103:3306")
    chains = nat(seed_cluster())
    assert chains[svc_chain(spn)] == [f"-A {svc_chain(spn)} -j {sep}"]
    assert chains[sep][1].endswith("-m tcp -j DNAT --to-destination 192.168.0.103:3306")


def test_seed_kubernetes_service_leads_to_the_api_server_on_the_first_node():
    spn = "default/kubernetes:https"
    sep = sep_chain(spn, "192.168.0.21:6443")
    chains = nat(seed_cluster())
    # the chain's name is the one every cluster's kube-proxy gives this service port
    assert svc_chain(spn) == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert chains[svc_chain(spn)] == [f"-A {svc_chain(spn)} -j {sep}"]
    assert chains[sep] == [f"-A {sep} -s 192.168.0.21/32 -j KUBE-MARK-MASQ",
                           f"-A {sep} -p tcp -m tcp -j DNAT --to-destination 192.168.0.21:6443"]
    assert filt(seed_cluster())["KUBE-SERVICES"] == []


def test_seed_ingress_node_ports():
    http, https = "ingress-nginx/ingress-nginx:http", "ingress-nginx/ingress-nginx:https"
    assert nat(seed_cluster())["KUBE-NODEPORTS"] == [
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{http}" -m tcp --dport 30799 -j KUBE-MARK-MASQ',
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{http}" -m tcp --dport 30799 -j {svc_chain(http)}',
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{https}" -m tcp --dport 31522 -j KUBE-MARK-MASQ',
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{https}" -m tcp --dport 31522 -j {svc_chain(https)}',
    ]


def test_node_ports_rule_is_last_in_kube_services():
    assert nat(seed_cluster())["KUBE-SERVICES"][-1] == (
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule '
        'in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')


def test_marks_masquerade_and_firewall():
    r = build(seed_cluster(), "node1")
    assert r["nat"].chains["KUBE-MARK-MASQ"] == ["-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"]
    assert r["nat"].chains["KUBE-MARK-DROP"] == ["-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000"]
    assert r["nat"].chains["KUBE-POSTROUTING"] == [
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-m mark --mark 0x4000/0x4000 -j MASQUERADE"]
    assert r["filter"].chains["KUBE-FIREWALL"] == [
        '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" '
        "-m mark --mark 0x8000/0x8000 -j DROP"]
    assert r["filter"].chains["KUBE-FORWARD"][0] == (
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT')
    assert '-A KUBE-FORWARD -s 10.254.0.0/16 -m comment --comment "kubernetes forwarding conntrack pod source rule" ' \
           "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" in r["filter"].chains["KUBE-FORWARD"]


def test_jumps_from_built_in_chains():
    r = build(seed_cluster(), "node1")
    portals = '-m comment --comment "kubernetes service portals"'
    assert r["nat"].jumps == {
        "PREROUTING": [f"-A PREROUTING {portals} -j KUBE-SERVICES"],
        "OUTPUT": [f"-A OUTPUT {portals} -j KUBE-SERVICES"],
        "POSTROUTING": ['-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
    }
    assert r["filter"].jumps["INPUT"] == [
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
        "-j KUBE-EXTERNAL-SERVICES", "-A INPUT -j KUBE-FIREWALL"]
    assert r["filter"].jumps["FORWARD"] == [
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        f"-A FORWARD -m conntrack --ctstate NEW {portals} -j KUBE-SERVICES"]
    assert r["filter"].jumps["OUTPUT"] == [f"-A OUTPUT -m conntrack --ctstate NEW {portals} -j KUBE-SERVICES",
                                           "-A OUTPUT -j KUBE-FIREWALL"]


def test_cluster_policy_rules_are_the_same_on_every_node():
    assert render(seed_cluster(), "node1") == render(seed_cluster(), "node2")


def test_ten_decimals_on_request():
    chain = nat(seed_cluster(), precision=10)[svc_chain(DP)]
    assert "--probability 0.3333333333 " in chain[0] and "--probability 0.5000000000 " in chain[1]


def test_every_jump_target_is_declared_and_every_chain_is_sorted():
    r = build(seed_cluster(), "node1")
    for t in r.values():
        assert list(t.chains) == sorted(t.chains)
        lines = [line for rules in t.chains.values() for line in rules]
        lines += [line for rules in t.jumps.values() for line in rules]
        for line in lines:
            target = line.split(" -j ")[1].split()[0]
            assert not target.startswith("KUBE-") or target in t.chains, line


def test_unknown_node_and_bad_precision():
    with pytest.raises(ModelError, match="node 'node9': not a node of this cluster"):
        build(seed_cluster(), "node9")
    with pytest.raises(ModelError, match="precision"):
        build(seed_cluster(), "node1", precision=0)


def test_without_cluster_cidr_there_is_no_pod_network_rule():
    r = build(seed_cluster(), "node1", cluster_cidr=None)
    assert not any("! -s" in line for line in r["nat"].chains["KUBE-SERVICES"])
    assert len(r["filter"].chains["KUBE-FORWARD"]) == 1


# --- every service feature on a small cluster -------------------------------------------------

def lab(*services: Service, pods=None) -> Cluster:
    c = Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24"),
                       Node("node2", "192.168.0.22", "172.30.9.0/24")])
    c.pods = pods if pods is not None else [
        Pod("web-a", "default", "node1", "172.30.76.2", {"app": "web"}),
        Pod("web-b", "default", "node1", "172.30.76.3", {"app": "web"}),
        Pod("web-c", "default", "node2", "172.30.9.2", {"app": "web"}),
    ]
    c.services = list(services)
    return c


def web(**kw) -> Service:
    kw.setdefault("ports", [ServicePort(80, "http", "TCP", 8080, 30080 if kw.get("type") in
                                        ("NodePort", "LoadBalancer") else None)])
    return Service("web", "default", cluster_ip="10.254.3.3", selector={"app": "web"}, **kw)


WEB = "default/web:http"
WEB_EPS = ["172.30.76.2:8080", "172.30.76.3:8080", "172.30.9.2:8080"]


def test_no_endpoints_cluster_ip_node_port_and_external_ip_are_rejected():
    c = lab(web(type="NodePort", external_ips=["192.168.0.150"]), pods=[])
    r = build(c, "node1")
    no = '-m comment --comment "default/web:http has no endpoints"'
    assert r["filter"].chains["KUBE-SERVICES"] == [
        f"-A KUBE-SERVICES -d 10.254.3.3/32 -p tcp {no} -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable"]
    assert r["filter"].chains["KUBE-EXTERNAL-SERVICES"] == [
        f"-A KUBE-EXTERNAL-SERVICES -d 192.168.0.150/32 -p tcp {no} -m tcp --dport 80 "
        "-j REJECT --reject-with icmp-port-unreachable",
        f"-A KUBE-EXTERNAL-SERVICES -p tcp {no} -m addrtype --dst-type LOCAL -m tcp --dport 30080 "
        "-j REJECT --reject-with icmp-port-unreachable"]
    assert r["nat"].chains[svc_chain(WEB)] == []
    assert not any(c.startswith("KUBE-SEP-") for c in r["nat"].chains)


def test_not_ready_endpoints_are_left_out():
    c = lab(web())
    c.pods[0].ready = False
    assert nat(c)[svc_chain(WEB)] == [
        f"-A {svc_chain(WEB)} -m statistic --mode random --probability 0.50000 -j {sep_chain(WEB, WEB_EPS[1])}",
        f"-A {svc_chain(WEB)} -j {sep_chain(WEB, WEB_EPS[2])}"]


def test_session_affinity_client_ip():
    chains = nat(lab(web(session_affinity="ClientIP", affinity_timeout=600)))
    seps = [sep_chain(WEB, e) for e in WEB_EPS]
    # the walk-through's era: the KUBE-SVC sticky rules lost their comment too (see the balancing rules)
    sticky = [f"-A {svc_chain(WEB)} -m recent --rcheck --seconds 600 --reap "
              f"--name {s} --mask 255.255.255.255 --rsource -j {s}" for s in seps]
    assert chains[svc_chain(WEB)][:3] == sticky
    later = nat(lab(web(session_affinity="ClientIP", affinity_timeout=600)), precision=10)[svc_chain(WEB)]
    assert later[0] == sticky[0].replace(" -m recent", f' -m comment --comment "{WEB}" -m recent')
    assert chains[svc_chain(WEB)][3].endswith(f"--probability 0.33333 -j {seps[0]}")
    # the DNAT lost its comment as well (the era's helper)
    assert chains[seps[0]][1] == (f"-A {seps[0]} -p tcp -m recent --set --name {seps[0]} "
                                  "--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 172.30.76.2:8080")


def test_node_port_with_local_policy_on_a_node_with_endpoints():
    chains = nat(lab(web(type="NodePort", external_traffic_policy="Local")), "node1")
    assert chains["KUBE-NODEPORTS"] == [
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{WEB}" -m tcp --dport 30080 -j {xlb_chain(WEB)}']
    assert chains[xlb_chain(WEB)] == [
        f'-A {xlb_chain(WEB)} -s 172.30.0.0/16 -m comment --comment "Redirect pods trying to reach external '
        f'loadbalancer VIP to clusterIP" -j {svc_chain(WEB)}',
        f'-A {xlb_chain(WEB)} -m comment --comment "Balancing rule 0 for {WEB}" -m statistic --mode random '
        f"--probability 0.50000 -j {sep_chain(WEB, WEB_EPS[0])}",
        f'-A {xlb_chain(WEB)} -m comment --comment "Balancing rule 1 for {WEB}" -j {sep_chain(WEB, WEB_EPS[1])}',
    ]
    assert len(chains[svc_chain(WEB)]) == 3             # the cluster IP still reaches every endpoint


def test_local_policy_on_a_node_without_endpoints_drops():
    c = lab(web(type="NodePort", external_traffic_policy="Local"), pods=[
        Pod("web-a", "default", "node1", "172.30.76.2", {"app": "web"})])
    assert nat(c, "node2")[xlb_chain(WEB)][-1] == (
        f'-A {xlb_chain(WEB)} -m comment --comment "{WEB} has no local endpoints" -j KUBE-MARK-DROP')
    assert render(c, "node1") != render(c, "node2")


def test_local_policy_with_affinity_sticks_to_local_endpoints():
    chains = nat(lab(web(type="NodePort", external_traffic_policy="Local", session_affinity="ClientIP")), "node2")
    s = sep_chain(WEB, WEB_EPS[2])
    assert chains[xlb_chain(WEB)][1:] == [
        f'-A {xlb_chain(WEB)} -m comment --comment "{WEB}" -m recent --rcheck --seconds 10800 --reap --name {s} '
        f"--mask 255.255.255.255 --rsource -j {s}",
        f'-A {xlb_chain(WEB)} -m comment --comment "Balancing rule 0 for {WEB}" -j {s}']


def test_external_ips():
    rules = nat(lab(web(external_ips=["192.168.0.150"])))["KUBE-SERVICES"]
    head = f'-A KUBE-SERVICES -d 192.168.0.150/32 -p tcp -m comment --comment "{WEB} external IP" -m tcp --dport 80'
    assert [r for r in rules if "192.168.0.150" in r] == [
        f"{head} -j KUBE-MARK-MASQ",
        f"{head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j {svc_chain(WEB)}",
        f"{head} -m addrtype --dst-type LOCAL -j {svc_chain(WEB)}"]


def test_load_balancer_ip_goes_through_a_firewall_chain():
    chains = nat(lab(web(type="LoadBalancer", load_balancer_ip="192.168.0.200")))
    lb = f'-m comment --comment "{WEB} loadbalancer IP"'
    assert f"-A KUBE-SERVICES -d 192.168.0.200/32 -p tcp {lb} -m tcp --dport 80 -j {fw_chain(WEB)}" \
        in chains["KUBE-SERVICES"]
    assert chains[fw_chain(WEB)] == [f"-A {fw_chain(WEB)} {lb} -j KUBE-MARK-MASQ",
                                     f"-A {fw_chain(WEB)} {lb} -j {svc_chain(WEB)}",
                                     f"-A {fw_chain(WEB)} {lb} -j KUBE-MARK-DROP"]
    assert len(chains["KUBE-NODEPORTS"]) == 2           # and its node port, as any NodePort


def test_load_balancer_with_local_policy_enters_the_local_chain():
    chains = nat(lab(web(type="LoadBalancer", load_balancer_ip="192.168.0.200", external_traffic_policy="Local")))
    assert [r.rsplit(" -j ", 1)[1] for r in chains[fw_chain(WEB)]] == [xlb_chain(WEB), "KUBE-MARK-DROP"]


def test_headless_and_external_name_services_get_no_rules():
    c = lab(Service("db", "default", cluster_ip="None", selector={"app": "web"}),
            Service("alias", "default", type="ExternalName", external_name="example.com"))
    r = build(c, "node1")
    assert not any(ch.startswith(("KUBE-SVC-", "KUBE-SEP-")) for ch in r["nat"].chains)
    assert r["nat"].chains["KUBE-SERVICES"] == [r["nat"].chains["KUBE-SERVICES"][-1]]


def test_hand_written_endpoints_keep_their_order_and_port_names_must_match():
    c = lab(Service("db", "default", cluster_ip="10.254.3.4", ports=[ServicePort(3306, "sql")]), pods=[])
    c.endpoints = [Endpoints("db", "default", [EndpointAddress("192.168.0.104"), EndpointAddress("192.168.0.103")],
                             [EndpointPort(3306, "sql")])]
    chain = nat(c)[svc_chain("default/db:sql")]
    assert chain[0].endswith(sep_chain("default/db:sql", "192.168.0.104:3306"))
    c.endpoints[0].ports[0].name = "other"      # no endpoint for port "sql": no chain, a REJECT
    assert svc_chain("default/db:sql") not in nat(c)
    assert any("default/db:sql has no endpoints" in r for r in filt(c)["KUBE-SERVICES"])


# --- partial updates ---------------------------------------------------------------------------

def test_diff_and_restore_input_after_a_pod_goes_away():
    c = seed_cluster()
    old = build(c, "node1")
    c.pods = [p for p in c.pods if p.ip != "172.30.9.2"]
    new = build(c, "node1")
    changes = diff(old, new)
    assert changes["nat"] == ([svc_chain(DP)], [sep_chain(DP, "172.30.9.2:50051")])
    assert changes["filter"] == ([], [])
    text = restore_input(new, {t: ch[0] for t, ch in changes.items()}, {t: ch[1] for t, ch in changes.items()})
    assert text.splitlines() == [
        "*nat",
        f":{svc_chain(DP)} - [0:0]",
        f":{sep_chain(DP, '172.30.9.2:50051')} - [0:0]",
        *new["nat"].chains[svc_chain(DP)],
        f"-X {sep_chain(DP, '172.30.9.2:50051')}",
        "COMMIT",
    ]


def test_nothing_to_do_when_nothing_changed_even_against_saved_probabilities():
    r = build(seed_cluster(), "node1")
    assert diff(r, build(seed_cluster(), "node1")) == {"nat": ([], []), "filter": ([], [])}
    saved = parse_save("\n".join(as_saved(line) for line in to_text(r).splitlines()))
    assert diff(saved, r) == {"nat": ([], []), "filter": ([], [])}
    assert restore_input(r, {"nat": [], "filter": []}) == ""


def test_full_restore_input_touches_no_built_in_chain():
    text = restore_input(build(seed_cluster(), "node1"))
    for chain in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD"):
        assert f":{chain} " not in text and f"-A {chain} " not in text
    assert text.count("COMMIT") == 2


def test_parse_save_keeps_only_netlab_rules():
    r = build(seed_cluster(), "node1")
    text = to_text(r).replace(
        ":KUBE-MARK-DROP - [0:0]", ":FLANNEL-POSTRTG - [0:0]\n:KUBE-MARK-DROP - [0:0]").replace(
        "-A POSTROUTING -m comment", "-A POSTROUTING -s 172.30.0.0/16 -j FLANNEL-POSTRTG\n-A POSTROUTING -m comment")
    parsed = parse_save("# Generated by iptables-save\n" + text)
    assert parsed["nat"].chains == r["nat"].chains and parsed["filter"].chains == r["filter"].chains
    assert parsed["nat"].jumps == r["nat"].jumps and parsed["filter"].jumps == r["filter"].jumps


# --- golden files --------------------------------------------------------------------------------

@pytest.mark.parametrize("node", ["node1", "node2"])
def test_seed_golden(node):
    """The seed's whole ruleset; NETLAB_UPDATE_GOLDEN=1 rewrites the files (read them before committing)."""
    path = GOLDEN / f"seed-{node}.rules"
    text = render(seed_cluster(), node)
    golden_files.check(path, text)


# --- behaviours pinned down one by one ---------------------------------------------------------

DB = "default/db:sql"


def _hand_written(tmp_path, subsets: str) -> Cluster:
    """A selector-less Service and the Endpoints a manifest writes for it."""
    from netlab.model import manifests, store
    f = tmp_path / "db.yaml"
    f.write_text("apiVersion: v1\nkind: Endpoints\nmetadata: {name: db}\nsubsets:\n" + subsets)
    c = lab(Service("db", "default", cluster_ip="10.254.3.4", ports=[ServicePort(3306, "sql")]), pods=[])
    store.apply(c, manifests.load(f))
    return c


def test_not_ready_addresses_of_hand_written_endpoints_get_no_traffic(tmp_path):
    c = _hand_written(tmp_path, "- addresses: [{ip: 192.168.0.103}]\n"
                                "  notReadyAddresses: [{ip: 192.168.0.104}, {ip: 192.168.0.105}]\n"
                                "  ports: [{name: sql, port: 3306}]\n")
    chains = nat(c)
    assert [ch for ch in chains if ch.startswith("KUBE-SEP-")] == [sep_chain(DB, "192.168.0.103:3306")]
    assert chains[svc_chain(DB)] == [f"-A {svc_chain(DB)} -j {sep_chain(DB, '192.168.0.103:3306')}"]
    assert "192.168.0.104" not in render(c, "node1") and "192.168.0.105" not in render(c, "node1")


def test_hand_written_endpoints_with_only_not_ready_addresses_are_rejected(tmp_path):
    c = _hand_written(tmp_path, "- notReadyAddresses: [{ip: 192.168.0.104}]\n  ports: [{name: sql, port: 3306}]\n")
    assert not any(ch.startswith("KUBE-SEP-") for ch in nat(c))
    assert any(f"{DB} has no endpoints" in r and r.endswith("-j REJECT --reject-with icmp-port-unreachable")
               for r in filt(c)["KUBE-SERVICES"])


def test_client_ip_affinity_sticks_for_10800_seconds_by_default():
    chains = nat(lab(web(session_affinity="ClientIP")))
    sticky = [r for r in chains[svc_chain(WEB)] if "-m recent" in r]
    assert len(sticky) == 3 and all(" --rcheck --seconds 10800 --reap " in r for r in sticky)


def test_a_headless_service_with_ports_gets_no_rules():
    c = lab(Service("web", "default", cluster_ip="None", selector={"app": "web"},
                    ports=[ServicePort(80, "http", "TCP", 8080)]))
    r = build(c, "node1")
    assert not any(ch.startswith(("KUBE-SVC-", "KUBE-SEP-", "KUBE-XLB-", "KUBE-FW-")) for ch in r["nat"].chains)
    assert "default/web" not in render(c, "node1")
    assert r["nat"].chains["KUBE-SERVICES"] == build(lab(), "node1")["nat"].chains["KUBE-SERVICES"]
    assert r["filter"].chains == build(lab(), "node1")["filter"].chains     # no REJECT for it either


# --- every node at once -----------------------------------------------------------------

@pytest.mark.parametrize("policy", ["Cluster", "Local"])
def test_build_nodes_gives_each_node_what_build_gives_it(policy):
    c = lab(web(type="NodePort", external_traffic_policy=policy), Service(
        "db", "default", cluster_ip="10.254.3.4", selector={"app": "web"}, ports=[ServicePort(3306)]))
    got = build_nodes(c, ["node1", "node2"], precision=10)
    for node in ("node1", "node2"):
        assert to_text(got[node]) == to_text(build(c, node, precision=10))
    # Only Local rules differ between nodes (each balances over its own endpoints)
    assert (to_text(got["node1"]) == to_text(got["node2"])) == (policy == "Cluster")


def test_build_nodes_checks_every_node_name():
    with pytest.raises(ModelError, match=r"^node 'node3': not a node of this cluster$"):
        build_nodes(lab(web()), ["node1", "node3"])
