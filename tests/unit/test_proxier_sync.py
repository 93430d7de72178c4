"""kube-proxy's sync over the fake iptables: what reaches the kernel, and when (no root)."""
import pytest

from netlab.errors import NetlabError
from netlab.kernel.fake import FakeIptables
from netlab.kube_proxy import as_saved, build, parse_save
from netlab.kube_proxy.proxier import WHOLE_TABLE_OVER, sync
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster

NS = "lab-node1"
FLANNEL = "-A POSTROUTING -s 172.30.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE"


def _seed():
    c = seed_cluster()
    c.endpoints = derive_endpoints(c)
    return c


def _kernel_has(ipt: FakeIptables, want) -> bool:
    """The namespace holds exactly `want`'s chains and jumps, as iptables-save prints them."""
    have = parse_save(ipt.save(NS))
    return all(have[t].chains == {c: [as_saved(r) for r in rules] for c, rules in want[t].chains.items()}
               and all(have[t].jumps.get(c) == rules for c, rules in want[t].jumps.items())
               for t in ("nat", "filter"))


def _many(n: int):
    """The seed and n more services, each with one endpoint (two chains apiece)."""
    c = _seed()
    for i in range(n):
        c.services.append(Service(f"s{i}", "default", cluster_ip=f"10.254.200.{i + 2}", ports=[ServicePort(80)]))
        c.endpoints.append(Endpoints(f"s{i}", "default", [EndpointAddress(f"10.99.0.{i + 2}")], [EndpointPort(80)]))
    return c


@pytest.mark.parametrize("services,whole", [(0, False), (150, True)])
def test_the_first_sync_writes_chains_or_whole_tables_and_keeps_flannels_rule(tmp_path, services, whole):
    """A few chains: --noflush, chain by chain; more than WHOLE_TABLE_OVER: both tables at once,
    with every rule that is not netlab's written back."""
    ipt = FakeIptables()
    ipt.restore(NS, f"*nat\n{FLANNEL}\nCOMMIT\n")
    c = _many(services)
    want = build(c, "node1", endpoints=c.endpoints)
    assert (sync(NS, want, tmp_path / "cache", ipt) > WHOLE_TABLE_OVER) == whole
    assert [noflush for _, _, noflush in ipt.calls[1:]] == [not whole]
    assert _kernel_has(ipt, want)
    assert ipt.rules(NS, "nat", "POSTROUTING")[-1] == FLANNEL       # not netlab's: kept, after its jump


def test_an_endpoint_change_rewrites_only_that_services_chains(tmp_path):
    ipt, c = FakeIptables(), _seed()
    sync(NS, build(c, "node1"), tmp_path / "cache", ipt)
    dp = next(e for e in c.endpoints if e.name == "data-product")
    dp.addresses = [a for a in dp.addresses if a.ip != "172.30.9.2"]
    want = build(c, "node1", endpoints=c.endpoints)
    assert sync(NS, want, tmp_path / "cache", ipt) == 2             # KUBE-SVC rewritten, one KUBE-SEP gone
    ns, text, noflush = ipt.calls[-1]
    assert noflush and text.count("\n:") == 2 and "-X KUBE-SEP-" in text
    assert _kernel_has(ipt, want)


def test_nothing_changed_writes_nothing(tmp_path):
    ipt, c = FakeIptables(), _seed()
    sync(NS, build(c, "node1"), tmp_path / "cache", ipt)
    calls = len(ipt.calls)
    assert sync(NS, build(c, "node1"), tmp_path / "cache", ipt) == 0 and len(ipt.calls) == calls


def test_a_failed_write_changes_nothing_and_the_next_sync_converges(tmp_path):
    ipt, c = FakeIptables(), _seed()
    before = build(c, "node1")
    sync(NS, before, tmp_path / "cache", ipt)
    c.endpoints = [e for e in c.endpoints if e.name != "business-manager"]
    want = build(c, "node1", endpoints=c.endpoints)
    ipt.fail_next = "Resource temporarily unavailable"
    with pytest.raises(NetlabError, match=r"^iptables-legacy-restore in lab-node1 failed: Resource temporarily"):
        sync(NS, want, tmp_path / "cache", ipt)
    assert _kernel_has(ipt, before)                  # the table as it was: one transaction
    assert sync(NS, want, tmp_path / "cache", ipt) > 0
    assert _kernel_has(ipt, want)


def test_without_its_cache_the_proxier_reads_the_kernel(tmp_path):
    """A lost cache (a new kube-proxy) costs one iptables-save, not a rewrite of what is right."""
    ipt, c = FakeIptables(), _seed()
    want = build(c, "node1")
    sync(NS, want, tmp_path / "cache", ipt)
    (tmp_path / "cache").unlink()
    calls = len(ipt.calls)
    assert sync(NS, want, tmp_path / "cache", ipt) == 0 and len(ipt.calls) == calls
