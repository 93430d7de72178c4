"""Applies a node's kube-proxy rules: whole tables when much changed, else only the
chains that changed.

The last ruleset written to each node is kept in the lab's state directory, as
kube-proxy keeps it in memory; without it the node's rules are read back with
iptables-legacy-save. Each table changes in one iptables-restore commit, so a packet
meets the old rules or the new ones, never a mix.

A whole-table write keeps every rule that is not netlab's (flannel's masquerading,
a user's own) as iptables-save showed it. It is used when many chains change: with
--noflush, iptables-legacy-restore creates chains one by one and costs 1.5x a
flushing restore of the same 31,000 rules; for a few chains --noflush is cheaper.
"""
from __future__ import annotations

import json
import marshal
from pathlib import Path

from netlab.errors import NetlabError
from netlab.kernel import iptables
from netlab.kube_proxy.rules import BUILTIN, TABLES, Table, diff, parse_save, read_save, restore_input

WHOLE_TABLE_OVER = 200     # changed chains above which a whole-table write is cheaper


def _load(path: Path) -> dict[str, Table] | None:
    try:
        raw = marshal.loads(path.read_bytes())
    except (FileNotFoundError, ValueError, EOFError, TypeError):
        return None
    return {name: Table(name, raw[name]["jumps"], raw[name]["chains"]) for name in TABLES}


def _store(path: Path, ruleset: dict[str, Table]) -> None:
    # marshal: 31,000 rules in ~10 ms where JSON takes 80 ms; the file is this
    # Python's own cache under /run, never read by anything else
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(marshal.dumps({name: {"jumps": t.jumps, "chains": t.chains} for name, t in ruleset.items()}))
    tmp.replace(path)


def missing_jumps(have: dict[str, Table], want: dict[str, Table]) -> str:
    """Insert, at the top of the built-in chains, the jumps that are not there yet."""
    lines = []
    for name in TABLES:
        inserts = []
        for chain, rules in want[name].jumps.items():
            present = have[name].jumps.get(chain, [])
            for pos, rule in enumerate(rules, 1):
                if rule not in present:
                    inserts.append(rule.replace(f"-A {chain} ", f"-I {chain} {pos} ", 1))
        if inserts:
            lines += [f"*{name}", *inserts, "COMMIT"]
    return "\n".join(lines) + "\n" if lines else ""


def stale_jumps(have: dict[str, Table], want: dict[str, Table]) -> dict[str, list[str]]:
    """`-D` lines for the jumps `have` holds and `want` does not (another flavour's, say)."""
    out = {}
    for name in TABLES:
        wanted = {r for rules in want[name].jumps.values() for r in rules}
        out[name] = ["-D " + r[3:] for rules in have[name].jumps.values() for r in rules if r not in wanted]
    return out


def plan(have: dict[str, Table], want: dict[str, Table]) -> str:
    """iptables-restore --noflush input turning `have` into `want` (pure)."""
    d = diff(have, want)
    chains = {t: w for t, (w, _) in d.items()}
    removed = {t: r for t, (_, r) in d.items()}
    return restore_input(want, chains, removed, stale_jumps(have, want)) + missing_jumps(have, want)


def whole_tables(saved: str, want: dict[str, Table]) -> str:
    """Flushing iptables-restore input for nat and filter: `want`, plus every rule of
    `saved` (iptables-save text) that is not netlab's, after netlab's jumps."""
    kept = read_save(saved)
    lines = []
    for name in TABLES:
        t, other = want[name], kept.foreign[name]
        lines.append(f"*{name}")
        lines += [f":{c} {kept.policy.get((name, c), 'ACCEPT')} [0:0]" for c in BUILTIN[name]]
        lines += [f":{c} - [0:0]" for c in other if c not in BUILTIN[name]]
        lines += [f":{c} - [0:0]" for c in t.chains]
        for c in BUILTIN[name]:
            lines += t.jumps.get(c, []) + other.get(c, [])
        for c, rules in other.items():
            if c not in BUILTIN[name]:
                lines += rules
        for rules in t.chains.values():
            lines += rules
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def sync(ns: str, want: dict[str, Table], cache: Path, ipt: iptables.Iptables = iptables.LEGACY) -> int:
    """Bring namespace `ns` to `want` through `ipt` (the kernel's iptables, or a fake);
    returns how many chains were written or removed."""
    have = _load(cache)
    saved = None
    if have is None:
        saved = ipt.save(ns)
        have = parse_save(saved)
    changed = sum(len(w) + len(r) for w, r in diff(have, want).values())
    changed += sum(map(len, stale_jumps(have, want).values()))
    if changed > WHOLE_TABLE_OVER:
        ipt.restore(ns, whole_tables(saved if saved is not None else ipt.save(ns), want), noflush=False)
    elif changed:
        ipt.restore(ns, plan(have, want))
    _store(cache, want)
    return changed


NFT_TABLE = ("ip", "kube-proxy")


def sync_nft(ns: str, want, cache: Path, nft) -> int:
    """Bring namespace `ns`'s table `ip kube-proxy` to `want` (an nftables.Ruleset; None: no
    table); returns how many lines were written. The last
    ruleset written is kept in `cache`; without it, the table is replaced whole.

    A node without the table gets it in a few transactions (nftables.staged: every state
    in between looks to a packet like no table), because one transaction of a large table
    costs the kernel time quadratic in its length; a table of unknown content is replaced
    in one transaction. A change is one transaction (nftables.batched: kube-proxy's
    commands in the forms nft processes without reading every chain back first); the
    chains it stops using are flushed there and deleted, as kube-proxy does, in a
    transaction of their own one sync later (their names kept beside the cache), because
    a `delete chain` makes nft read every chain of the table first (~0.5 s at 10,000
    Services): the next change's transaction comes first, the deletion after it."""
    unknown = object()
    try:
        have = _read_nft(cache)                       # None: known to have no table
    except (OSError, ValueError, EOFError, TypeError, KeyError, IndexError):
        have = unknown
    stale_file = _stale_file(cache)
    if want is None:
        present = nft.list_table(ns, *NFT_TABLE) is not None if have is unknown else have is not None
        if present:
            nft.apply(ns, "delete table ip kube-proxy\n")
        if have is not None:
            _write_nft(cache, None)
        stale_file.unlink(missing_ok=True)
        return int(present)
    from netlab.kube_proxy import nftables
    if have is None or (have is unknown and nft.list_table(ns, *NFT_TABLE) is None):
        texts = nftables.staged(want)
        try:
            for text in texts:
                nft.apply(ns, text)
        except NetlabError:
            # none of it stays: the node had no table, and the next sync starts over
            cache.unlink(missing_ok=True)
            _memo.pop(str(cache), None)
            try:
                nft.apply(ns, "add table ip kube-proxy\ndelete table ip kube-proxy\n")
            except NetlabError:
                pass
            raise
        _write_nft(cache, want)
        stale_file.unlink(missing_ok=True)
        return sum(t.count("\n") for t in texts)
    if have is unknown:
        # whatever is there goes in the same transaction: "add" first makes the delete safe
        text = "add table ip kube-proxy\ndelete table ip kube-proxy\n" + nftables.changes(None, want)
        nft.apply(ns, text)
        _write_nft(cache, want)
        stale_file.unlink(missing_ok=True)
        return text.count("\n")
    text = nftables.changes(have, want)
    lines = text.count("\n")
    if text:
        nft.apply(ns, nftables.batched(text.splitlines(), want))
        _write_nft(cache, want)
    recorded = _read_stale(stale_file)
    earlier = [n for n in recorded if n not in want.chains]     # (one wanted again is no longer stale)
    now = [n for n in nftables.removed_chains(have, want) if n not in earlier]
    if recorded != earlier + now:
        _write_stale(stale_file, earlier + now)
    if earlier:
        nft.apply(ns, nftables.stale_deletes(earlier))
        _write_stale(stale_file, now)
    return lines + 2 * len(earlier)


def _stale_file(cache: Path) -> Path:
    return cache.with_name(cache.stem + ".stale.json")


def _read_stale(path: Path) -> list[str]:
    try:
        return list(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return []


def _write_stale(path: Path, names: list[str]) -> None:
    if names:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(names))
        tmp.replace(path)
    else:
        path.unlink(missing_ok=True)


# The last ruleset written, kept as kube-proxy keeps it in memory: at 10,000 services
# pickle took 0.46 s to read and 0.58 s to write it, marshal of plain tuples 0.34 s and
# 0.39 s; a process that wrote the file itself does not read it back while it is unchanged.
_memo: dict[str, tuple[tuple[int, int, int], object]] = {}


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_nft(path: Path):
    stamp = _stamp(path)
    hit = _memo.get(str(path))
    if hit is not None and hit[0] == stamp:
        return hit[1]
    value = _from_plain(marshal.loads(path.read_bytes()))
    _memo[str(path)] = (stamp, value)
    return value


def _write_nft(path: Path, value) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(marshal.dumps(_to_plain(value)))
    tmp.replace(path)
    _memo[str(path)] = (_stamp(path), value)


def _to_plain(rs) -> dict | None:
    if rs is None:
        return None
    return {"version": 1, "comment": rs.comment, "chains": [tuple(c) for c in rs.chains.values()],
            "containers": [tuple(c) for c in rs.containers.values()],
            "elements": {n: [tuple(e) for e in es.values()] for n, es in rs.elements.items()}}


def _from_plain(raw):
    if raw is None:
        return None
    from netlab.kube_proxy import nftables as n
    if raw["version"] != 1:
        raise ValueError("unknown cache version")
    new = tuple.__new__
    return n.Ruleset({c[0]: new(n.Chain, c) for c in raw["chains"]},
                     {c[1]: new(n.Container, c) for c in raw["containers"]},
                     {name: {e[0]: new(n.Element, e) for e in es} for name, es in raw["elements"].items()},
                     raw["comment"])
