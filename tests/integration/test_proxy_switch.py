"""Switching a running lab's kube-proxy flavour (netlab proxy set) leaves nothing of the old
one; today's iptables flavour on the nft backend of iptables."""
from netlab import layout
from netlab.model.seed import seed_cluster

from helpers import connect, netlab, pod_ns, sh

DP = "10.254.116.224:50051"


def _kernel(lab, node="node1"):
    ns = layout.node_ns(lab.name, node)
    legacy = sh(ns, "iptables-legacy-save").stdout
    nft_iptables = sh(ns, "iptables-nft-save").stdout
    tables = sh(ns, "nft", "list", "tables").stdout
    return legacy, nft_iptables, tables


def _chains(save: str) -> set[str]:
    return {line[1:].split()[0] for line in save.splitlines() if line.startswith(":")}


def _works(lab):
    r = connect(pod_ns(lab.cluster(), "business-manager-666f454f7f-7l86b"), DP, "--count", "30")
    assert r["failed"] == 0 and len(r["by"]) == 3, r


def test_switching_flavours_back_and_forth_leaves_no_rule_of_the_old_one(make_lab):
    lab = make_lab(seed_cluster)
    seed_save = {n: sh(layout.node_ns(lab.name, n), "iptables-legacy-save").stdout for n in ("node1", "node2")}
    netlab("proxy", "set", "iptables", "--name", lab.name)
    legacy, _, tables = _kernel(lab)
    assert not any(c.startswith("KUBE-XLB-") for c in _chains(legacy)) and "KUBE-PROXY-FIREWALL" in _chains(legacy)
    assert "--probability 0.33332999982" not in legacy       # ten decimals now, none of the seed's five
    assert "kube-proxy" not in tables
    _works(lab)
    netlab("proxy", "set", "nftables", "--name", lab.name)
    for node in ("node1", "node2"):
        legacy, _, tables = _kernel(lab, node)
        assert not [c for c in _chains(legacy) if c.startswith("KUBE-")] and "KUBE-" not in legacy
        assert "table ip kube-proxy" in tables
        assert "-j MASQUERADE" in legacy                     # flannel's own rules stay
    _works(lab)
    netlab("proxy", "set", "iptables-seed", "--name", lab.name)
    for node in ("node1", "node2"):
        legacy, _, tables = _kernel(lab, node)
        assert "kube-proxy" not in tables
        # exactly the seed's ruleset again, line for line (counters aside)
        assert _rules(legacy) == _rules(seed_save[node])
    _works(lab)
    assert netlab("proxy", "show", "--name", lab.name).stdout.startswith("iptables-seed\t")


def _rules(save: str) -> dict[str, list[str]]:
    """table:chain -> its rules in order (counters and the header's date aside)."""
    out: dict[str, list[str]] = {}
    table = ""
    for line in save.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            out.setdefault(f"{table}:{line[1:].split()[0]}", [])
        elif line.startswith("-A "):
            out.setdefault(f"{table}:{line.split()[1]}", []).append(line)
    return out


def test_todays_iptables_flavour_on_the_nft_backend_writes_no_legacy_rule(make_lab):
    def cluster(name, now):
        c = seed_cluster(name, now)
        c.proxy_mode, c.iptables_backend = "iptables", "nft"
        return c
    lab = make_lab(cluster)
    legacy, nft_iptables, tables = _kernel(lab)
    assert "KUBE-" not in legacy and "-j MASQUERADE" not in legacy            # nothing in x_tables
    assert "KUBE-SERVICES" in _chains(nft_iptables) and "KUBE-PROXY-FIREWALL" in _chains(nft_iptables)
    assert "table ip nat" in tables                          # iptables-nft's own tables, in nftables
    _works(lab)
    assert _data_product_dnats(nft_iptables) == 3
    # an endpoint change reaches the nft backend too
    netlab("scale", "deployment", "data-product", "--replicas", "1", "--name", lab.name)
    _, nft_iptables, _ = _kernel(lab, "node2")
    assert _data_product_dnats(nft_iptables) == 1
    r = connect(pod_ns(lab.cluster(), "business-manager-666f454f7f-7l86b"), DP, "--count", "10")
    assert r["failed"] == 0 and len(r["by"]) == 1, r


def _data_product_dnats(save: str) -> int:
    return sum(1 for line in save.splitlines() if "-j DNAT" in line and line.endswith(":50051"))


def test_unknown_flavour_is_refused_with_the_choices(make_lab):
    lab = make_lab(seed_cluster)
    r = netlab("proxy", "set", "ipvs", "--name", lab.name, check=False)
    assert r.returncode == 1 and "invalid choice: 'ipvs'" in r.stderr
    assert netlab("proxy", "show", "--name", lab.name).stdout.startswith("iptables-seed\t")
