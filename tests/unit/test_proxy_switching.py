"""A lab's kube-proxy flavour over the fake kernel: each flavour writes its own dataplane, and
a switch (`netlab proxy set`) leaves nothing of the one before, as kube-proxy's cleanup of
the other modes does."""


from netlab import layout
from netlab.kube_proxy import proxier
from netlab.kube_proxy.rules import Table
from netlab.lab import Lab
from netlab.model.seed import seed_cluster



def _lab(kernel, mode="iptables-seed", backend="legacy"):
    c = seed_cluster("sw")
    c.proxy_mode, c.iptables_backend = mode, backend
    return Lab.up(c, kernel=kernel)


def _ours(ipt, ns: str) -> set[str]:
    """kube-proxy's chains (and the jumps into them) in a namespace's tables."""
    out = set()
    for table in ipt.tables.get(ns, {}).values():
        for chain, rules in table.chains.items():
            if chain.startswith("KUBE-"):
                out.add(chain)
            out |= {r for r in rules if " -j KUBE-" in r}
    return out


NODE1 = layout.node_ns("sw", "node1")


def test_each_flavour_writes_its_own_dataplane(kernel):
    _lab(kernel, "nftables")
    assert _ours(kernel.iptables, NODE1) == set()
    assert ("ip", "kube-proxy") in kernel.nft.tables[NODE1]
    applied = "".join(text for ns, text in kernel.nft.calls if ns == NODE1)
    assert "numgen random mod 3" in applied                  # data-product's three endpoints
    assert "ip saddr != 172.30.0.0/16" in applied            # today's proxier: the pod network is local


def test_switching_from_seed_to_todays_iptables_to_nftables_and_back(kernel):
    lab = _lab(kernel)
    seed_chains = _ours(kernel.iptables, NODE1)
    assert any(c.startswith("KUBE-XLB-") or c == "KUBE-MARK-DROP" for c in seed_chains)
    lab.update(lambda c: setattr(c, "proxy_mode", "iptables"))
    today = _ours(kernel.iptables, NODE1)
    assert "KUBE-PROXY-FIREWALL" in today and "KUBE-MARK-DROP" not in today
    nat = [r for chain in kernel.iptables.tables[NODE1]["nat"].chains.values() for r in chain]
    # ten decimals (0.3333333333, kept as 0.33333333349), none of the seed's five (0.33332999982)
    assert any("--probability 0.33333333" in r for r in nat) and not any("0.33332999982" in r for r in nat)
    lab.update(lambda c: setattr(c, "proxy_mode", "nftables"))
    assert _ours(kernel.iptables, NODE1) == set()
    assert ("ip", "kube-proxy") in kernel.nft.tables[NODE1]
    lab.update(lambda c: setattr(c, "proxy_mode", "iptables-seed"))
    assert ("ip", "kube-proxy") not in kernel.nft.tables[NODE1]
    assert _ours(kernel.iptables, NODE1) == seed_chains


def test_the_nft_backend_gets_every_iptables_rule_and_legacy_none(kernel):
    _lab(kernel, "iptables", "nft")
    assert _ours(kernel.iptables, NODE1) == set() and not kernel.iptables.tables.get(NODE1)
    assert "KUBE-SERVICES" in _ours(kernel.iptables_nft, NODE1)
    masq = kernel.iptables_nft.rules(NODE1, "nat", "POSTROUTING")
    assert any("MASQUERADE" in r for r in masq)              # flannel's too


def test_stale_jumps_go_before_the_chains_they_lead_to():
    have = {"nat": Table("nat", {"PREROUTING": ["-A PREROUTING -j KUBE-OLD"]}, {"KUBE-OLD": []}),
            "filter": Table("filter")}
    want = {"nat": Table("nat", {"PREROUTING": ["-A PREROUTING -j KUBE-NEW"]}, {"KUBE-NEW": []}),
            "filter": Table("filter")}
    text = proxier.plan(have, want)
    assert text.index("-D PREROUTING -j KUBE-OLD") < text.index("-X KUBE-OLD")
    assert "-I PREROUTING 1 -j KUBE-NEW" in text


def test_only_todays_iptables_proxier_routes_localnet_for_its_localhost_node_ports(kernel):
    lab = _lab(kernel)
    key = "net/ipv4/conf/all/route_localnet"
    assert kernel.namespace(NODE1).sysctls[key] == "0"
    lab.update(lambda c: setattr(c, "proxy_mode", "iptables"))
    assert kernel.namespace(NODE1).sysctls[key] == "1"
    assert any("-d 127.0.0.0/8 ! -s 127.0.0.0/8" in r for r in kernel.iptables.rules(NODE1, "filter", "KUBE-FIREWALL"))
    lab.update(lambda c: setattr(c, "proxy_mode", "nftables"))
    assert kernel.namespace(NODE1).sysctls[key] == "0"
