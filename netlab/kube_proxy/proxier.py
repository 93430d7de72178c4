"""Applies a node's kube-proxy rules: whole on a fresh node, only what changed after.

The last ruleset written to each node is kept in the lab's state directory, as
kube-proxy keeps it in memory; without it the node's rules are read back with
iptables-legacy-save. Each table changes in one iptables-restore commit, so a packet
meets the old rules or the new ones, never a mix.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from netlab.kernel import iptables
from netlab.kube_proxy.rules import TABLES, Table, diff, parse_save, restore_input


def _load(path: Path) -> dict[str, Table] | None:
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return {name: Table(**raw[name]) for name in TABLES}


def _store(path: Path, ruleset: dict[str, Table]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({name: asdict(t) for name, t in ruleset.items()}))
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


def plan(have: dict[str, Table], want: dict[str, Table]) -> str:
    """iptables-restore --noflush input turning `have` into `want` (pure)."""
    d = diff(have, want)
    chains = {t: w for t, (w, _) in d.items()}
    removed = {t: r for t, (_, r) in d.items()}
    return restore_input(want, chains, removed) + missing_jumps(have, want)


def sync(ns: str, want: dict[str, Table], cache: Path) -> int:
    """Bring namespace `ns` to `want`; returns how many chains were written or removed."""
    have = _load(cache)
    if have is None:
        have = parse_save(iptables.save(ns))
    text = plan(have, want)
    iptables.restore(ns, text)
    _store(cache, want)
    return sum(len(w) + len(r) for w, r in diff(have, want).values())
