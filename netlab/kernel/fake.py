"""In-memory stand-ins for the kernel seams, for unit tests of the components that use them.

FakeIptables keeps each namespace's tables as iptables-legacy-restore leaves them:
- `*table` ... `COMMIT` is one transaction: an error anywhere leaves the table as it was;
- without --noflush a table named in the input starts empty (user chains deleted,
  built-in chains flushed, policies back to ACCEPT unless given);
- with --noflush a declared user chain is created, or flushed if it exists;
- `-A`, `-I [n]`, `-D`, `-F`, `-N`, `-X` as iptables does; a rule may jump only to a
  chain that exists or to a target (ACCEPT, DNAT, ...), and a chain still jumped to
  cannot be deleted;
- rules are kept as iptables-save prints them back (the probability as the kernel stores it).
save() prints iptables-save's layout: built-in chains, then user chains by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from netlab.errors import NetlabError
from netlab.kube_proxy.rules import as_saved

BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
           "filter": ("INPUT", "FORWARD", "OUTPUT"),
           "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
           "raw": ("PREROUTING", "OUTPUT")}
TARGETS = {"ACCEPT", "DROP", "RETURN", "REJECT", "MASQUERADE", "DNAT", "SNAT", "MARK", "LOG", "CT",
           "NOTRACK", "QUEUE", "REDIRECT", "CONNMARK"}


@dataclass
class _Table:
    name: str
    chains: dict[str, list[str]] = field(default_factory=dict)
    policy: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, name: str) -> _Table:
        builtin = BUILTIN.get(name, ())
        return cls(name, {c: [] for c in builtin}, {c: "ACCEPT" for c in builtin})

    def copy(self) -> _Table:
        return _Table(self.name, {c: list(r) for c, r in self.chains.items()}, dict(self.policy))


def _target(rule: str) -> str:
    return rule.rsplit(" -j ", 1)[-1].split()[0] if " -j " in rule else ""


class FakeIptables:
    """The Iptables seam in memory: namespace -> table -> chains; every call is recorded."""

    def __init__(self):
        self.tables: dict[str, dict[str, _Table]] = {}
        self.calls: list[tuple[str, str, bool]] = []     # (ns, restore input, noflush)
        self.fail_next: str | None = None                # the message the next restore fails with

    def restore(self, ns: str, text: str, noflush: bool = True) -> None:
        self.calls.append((ns, text, noflush))
        if self.fail_next is not None:
            message, self.fail_next = self.fail_next, None
            raise NetlabError(f"iptables-legacy-restore in {ns} failed: {message}")
        tables = self.tables.setdefault(ns, {})
        work: _Table | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                if line.startswith("*"):
                    name = line[1:]
                    work = tables[name].copy() if noflush and name in tables else _Table.empty(name)
                elif work is None:
                    raise ValueError("no table given (*nat, *filter) before this line")
                elif line == "COMMIT":
                    tables[work.name], work = work, None
                else:
                    _apply(work, line)
            except ValueError as e:
                raise NetlabError(f"iptables-legacy-restore in {ns} failed: line {number}: {e}") from None
        if work is not None:
            raise NetlabError(f"iptables-legacy-restore in {ns} failed: no COMMIT for table {work.name}")

    def save(self, ns: str, table: str | None = None) -> str:
        lines = []
        for name, t in sorted(self.tables.get(ns, {}).items()):
            if table is not None and name != table:
                continue
            builtin = BUILTIN.get(name, ())
            lines.append(f"*{name}")
            lines += [f":{c} {t.policy[c]} [0:0]" for c in builtin]
            lines += [f":{c} - [0:0]" for c in sorted(t.chains) if c not in builtin]
            for c in list(builtin) + sorted(c for c in t.chains if c not in builtin):
                lines += t.chains[c]
            lines.append("COMMIT")
        return "\n".join(lines) + "\n" if lines else ""

    def rules(self, ns: str, table: str, chain: str) -> list[str]:
        return list(self.tables.get(ns, {}).get(table, _Table(table)).chains.get(chain, []))


def _apply(t: _Table, line: str) -> None:
    builtin = BUILTIN.get(t.name, ())
    if line.startswith(":"):
        chain, policy = (line[1:].split() + ["-"])[:2]
        if chain not in builtin:
            t.chains[chain] = []            # created, or (--noflush) flushed
        elif policy != "-":
            t.policy[chain] = policy
        return
    words = line.split()
    op, chain = words[0], (words[1] if len(words) > 1 else "")
    if op in ("-A", "-I", "-D", "-F", "-X") and chain and chain not in t.chains:
        raise ValueError(f"chain {chain!r} does not exist")
    if op == "-N":
        if chain in t.chains:
            raise ValueError(f"chain {chain!r} already exists")
        t.chains[chain] = []
    elif op == "-F":
        for c in ([chain] if chain else list(t.chains)):
            t.chains[c] = []
    elif op == "-X":
        if chain in builtin:
            raise ValueError(f"built-in chain {chain!r} cannot be deleted")
        if any(_target(r) == chain for rules in t.chains.values() for r in rules):
            raise ValueError(f"chain {chain!r} is still jumped to")
        del t.chains[chain]
    elif op in ("-A", "-I", "-D"):
        rest = words[2:]
        position = None
        if op == "-I" and rest and rest[0].isdigit():
            position, rest = int(rest[0]), rest[1:]
        rule = as_saved(" ".join(["-A", chain, *rest]))
        target = _target(rule)
        if target and target not in TARGETS and target not in t.chains:
            raise ValueError(f"{target!r} is neither a chain nor a target")
        if op == "-A":
            t.chains[chain].append(rule)
        elif op == "-I":
            if not 1 <= (position or 1) <= len(t.chains[chain]) + 1:
                raise ValueError(f"index of insertion too big: {position} in {chain}")
            t.chains[chain].insert((position or 1) - 1, rule)
        elif rule in t.chains[chain]:
            t.chains[chain].remove(rule)
        else:
            raise ValueError(f"no such rule in {chain}: {rule}")
    else:
        raise ValueError(f"{op!r} is not understood")
