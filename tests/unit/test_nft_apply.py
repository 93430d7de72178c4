"""The nftables applier's faster forms of kube-proxy's transactions (nftables.batched,
nftables.staged) and proxier.sync_nft's use of them: the same commands, so the same table."""
from __future__ import annotations

from dataclasses import replace

import pytest

from netlab.errors import NetlabError
from netlab.kernel.fake import FakeNft
from netlab.kube_proxy import nftables as nft
from netlab.kube_proxy import proxier
from tests.unit.test_nftables_rules import CASES, NODE, UPSTREAM_NODE, UPSTREAM_PORTS, ep

AT = "ip kube-proxy"


def expand(text: str, seen: set[str] | None = None) -> list[str]:
    """Block forms back into one line per command, as nft reads them; a set or map declared
    again (an identical line already in `seen`) dropped."""
    seen = set() if seen is None else seen
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(f"add chain {AT} ") and line.endswith(" {") and "type " not in line:
            chain = line.split(" ")[4]
            i += 1
            while lines[i] != "}":
                out.append(f"add rule {AT} {chain} {lines[i]}")
                i += 1
        elif " elements = { " in line:
            name = line.split(" ")[4]
            items = line.split(" elements = { ", 1)[1].rsplit(" } ; }", 1)[0]
            out += [f"add element {AT} {name} {{ {item} }}" for item in items.split(", ")]
        elif not (line.startswith(("add set ", "add map ")) and line in seen):
            out.append(line)
            seen.add(line)
        i += 1
    return out



def rulesets():
    yield nft.build(CASES, NODE, service_cidrs=("10.96.0.0/12",))
    yield nft.build(UPSTREAM_PORTS, UPSTREAM_NODE)
    yield nft.build(CASES, replace(NODE, node_port_addresses=("0.0.0.0/0",)))


def per_chain(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        words = line.split(" ", 5)
        out.setdefault(words[4] if words[1] == "rule" else "", []).append(line)
    return out


@pytest.mark.parametrize("rs", list(rulesets()))
def test_staged_is_full_text_in_an_order_that_refers_only_backwards(rs):
    full = nft.full_text(rs).splitlines()
    texts = nft.staged(rs, chains_per_tx=3)
    assert len(texts) > 3
    seen: set[str] = set()
    got = [ln for t in texts for ln in expand(t, seen)]
    assert sorted(got) == sorted(full)
    # every chain's rules in full_text's order; chains and sets created in full_text's order
    assert per_chain([ln for ln in got if " rule " in ln]) == per_chain([ln for ln in full if " rule " in ln])
    assert [ln for ln in got if " rule " not in ln and " element " not in ln] == \
        [ln for ln in full if " rule " not in ln and " element " not in ln]
    # the first transaction makes every object and no rule; no element before the last one
    assert "add rule" not in texts[0] and "{\n" not in texts[0]
    assert all("elements = " not in t for t in texts[:-1])
    # no rule of a fixed chain (the jumps into the service chains) before the last one
    for t in texts[1:-1]:
        assert all(not nft._is_fixed_chain(ln.split(" ")[4]) for ln in expand(t))


def test_staged_puts_the_anonymous_sets_first_in_each_transaction():
    rs = nft.build(CASES, NODE)
    for t in nft.staged(rs, chains_per_tx=5)[1:-1]:
        blocks = t.split("\n}\n")
        with_set = [" { " in b.split(" {\n", 1)[1] for b in blocks if " {\n" in b]
        assert with_set == sorted(with_set, reverse=True)


def test_batched_groups_rules_and_elements_and_declares_the_sets_it_names():
    rs = nft.build(CASES, NODE)
    text = nft.batched(nft.full_text(rs).splitlines(), rs)
    assert "add rule" not in text and "add element" not in text
    sticky = next(n for n in rs.containers if n.startswith("affinity-"))
    chain = next(n for n, c in rs.chains.items() if any(f"@{sticky} " in r for r in c.rules))
    assert text.index(nft.container_line(rs.containers[sticky])) < text.index(f"add chain {AT} {chain} {{\n")


@pytest.mark.parametrize("change", ["drop-first", "drop-last", "move-endpoint", "affinity", "none-left"])
def test_batched_changes_are_kube_proxys_changes(change):
    old = nft.build(CASES, NODE)
    ports = {"drop-first": CASES[1:], "drop-last": CASES[:-1], "none-left": [],
             "move-endpoint": [replace(p, endpoints=p.endpoints[:-1] + (ep("10.244.9.9"),)) if p.endpoints else p
                               for p in CASES],
             "affinity": [replace(p, affinity_seconds=30) for p in CASES]}[change]
    new = nft.build(ports, NODE)
    text = nft.changes(old, new)
    fast = nft.batched(text.splitlines(), new)
    # declared again: only sets the kernel holds already, with the same definition
    unchanged = {nft.container_line(c) for n, c in new.containers.items() if old.containers.get(n) == c}
    assert expand(fast, unchanged) == text.splitlines()


def test_one_endpoint_change_needs_no_rule_or_element_command():
    old = nft.build(CASES, NODE)
    new = nft.build([replace(CASES[0], endpoints=(ep("10.244.2.5"), ep("10.244.3.7", "node1"))), *CASES[1:]], NODE)
    fast = nft.batched(nft.changes(old, new).splitlines(), new)
    assert "add rule" not in fast and "add element" not in fast


def test_sync_nft_builds_a_fresh_node_in_stages_and_changes_in_one_transaction(tmp_path):
    fake, cache = FakeNft(), tmp_path / "kp.pickle"
    rs = nft.build(CASES, NODE)
    proxier.sync_nft("ns1", rs, cache, fake)
    assert [t for _, t in fake.calls] == nft.staged(rs)
    assert fake.list_table("ns1", "ip", "kube-proxy") is not None
    fake.calls.clear()
    new = nft.build(CASES[1:], NODE)
    proxier.sync_nft("ns1", new, cache, fake)
    assert [t for _, t in fake.calls] == [nft.batched(nft.changes(rs, new).splitlines(), new)]


def test_chains_a_change_stops_using_are_flushed_then_deleted_one_sync_later_after_its_change(tmp_path):
    fake, cache = FakeNft(), tmp_path / "kp.marshal"
    rs = nft.build(CASES, NODE)
    proxier.sync_nft("ns1", rs, cache, fake)
    dropped = nft.build(CASES[1:], NODE)
    gone = nft.removed_chains(rs, dropped)
    assert gone and all("/" in n for n in gone)                   # the first Service's own chains
    fake.calls.clear()
    proxier.sync_nft("ns1", dropped, cache, fake)
    (change,) = [t for _, t in fake.calls]
    assert "delete chain" not in change and all(f"flush chain {AT} {n}\n" in change for n in gone)
    fake.calls.clear()
    moved = nft.build([replace(CASES[1], endpoints=CASES[1].endpoints[:-1] + (ep("10.244.9.9"),)), *CASES[2:]], NODE)
    proxier.sync_nft("ns1", moved, cache, fake)
    change, deletes = [t for _, t in fake.calls]
    assert change == nft.batched(nft.changes(dropped, moved).splitlines(), moved)
    assert deletes == "".join(f"add chain {AT} {n}\ndelete chain {AT} {n}\n" for n in gone)
    fake.calls.clear()
    proxier.sync_nft("ns1", moved, cache, fake)                   # the moved endpoint's old chain, now
    assert [t for _, t in fake.calls] == [nft.stale_deletes(nft.removed_chains(dropped, moved))]
    fake.calls.clear()
    proxier.sync_nft("ns1", moved, cache, fake)
    assert fake.calls == []


def test_a_stale_chain_wanted_again_is_refilled_and_not_deleted(tmp_path):
    fake, cache = FakeNft(), tmp_path / "kp.marshal"
    rs = nft.build(CASES, NODE)
    proxier.sync_nft("ns1", rs, cache, fake)
    proxier.sync_nft("ns1", nft.build(CASES[1:], NODE), cache, fake)
    fake.calls.clear()
    proxier.sync_nft("ns1", rs, cache, fake)
    (change,) = [t for _, t in fake.calls]
    assert "delete chain" not in change
    assert all(f"add chain {AT} {n} {{\n" in change for n in nft.removed_chains(rs, nft.build(CASES[1:], NODE))
               if rs.chains[n].rules)
    assert not list(tmp_path.glob("*.stale.json"))                 # none stale any more


def test_sync_nft_replaces_a_table_of_unknown_content_in_one_transaction(tmp_path):
    fake = FakeNft()
    fake.apply("ns1", "add table ip kube-proxy\n")
    fake.calls.clear()
    rs = nft.build(CASES, NODE)
    proxier.sync_nft("ns1", rs, tmp_path / "kp.pickle", fake)
    assert [t for _, t in fake.calls] == ["add table ip kube-proxy\ndelete table ip kube-proxy\n" + nft.full_text(rs)]


class Failing(FakeNft):
    def __init__(self, fail_at: int):
        super().__init__()
        self.fail_at = fail_at

    def apply(self, ns, text):
        if len(self.calls) == self.fail_at:
            self.calls.append((ns, text))
            raise NetlabError("nft in ns1 failed: Error: boom")
        super().apply(ns, text)


def test_a_failed_stage_leaves_no_table_and_no_cache(tmp_path):
    fake, cache = Failing(2), tmp_path / "kp.pickle"
    with pytest.raises(NetlabError, match="boom"):
        proxier.sync_nft("ns1", nft.build(CASES, NODE), cache, fake)
    assert fake.list_table("ns1", "ip", "kube-proxy") is None
    assert not cache.exists()
    assert fake.calls[-1][1] == "add table ip kube-proxy\ndelete table ip kube-proxy\n"


def test_the_cache_round_trips_and_is_not_read_back_by_the_process_that_wrote_it(tmp_path, monkeypatch):
    cache = tmp_path / "kp.pickle"
    rs = nft.build(CASES, NODE)
    proxier._write_nft(cache, rs)
    proxier._memo.clear()
    back = proxier._read_nft(cache)
    assert back == rs and nft.full_text(back) == nft.full_text(rs)
    assert type(next(iter(back.chains.values()))) is nft.Chain
    proxier._write_nft(cache, None)
    monkeypatch.setattr(proxier.marshal, "loads", lambda _: pytest.fail("read back"))
    assert proxier._read_nft(cache) is None


def test_a_cache_written_by_another_process_is_read_again(tmp_path):
    cache = tmp_path / "kp.pickle"
    proxier._write_nft(cache, nft.build(CASES, NODE))
    other = nft.build(CASES[1:], NODE)
    cache.write_bytes(proxier.marshal.dumps(proxier._to_plain(other)))   # as another process writes it
    assert proxier._read_nft(cache) == other


def test_an_old_pickle_cache_means_unknown_content(tmp_path):
    import pickle
    fake, cache = FakeNft(), tmp_path / "kp.pickle"
    fake.apply("ns1", "add table ip kube-proxy\n")
    fake.calls.clear()
    rs = nft.build(CASES, NODE)
    cache.write_bytes(pickle.dumps(rs))
    proxier._memo.clear()
    proxier.sync_nft("ns1", rs, cache, fake)
    assert [t for _, t in fake.calls] == ["add table ip kube-proxy\ndelete table ip kube-proxy\n" + nft.full_text(rs)]
