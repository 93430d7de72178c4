"""In-memory stand-ins for the kernel seams (netlab.kernel.api), for unit tests of the
components that use them: FakeKernel with its FakeNamespaces and FakeIptables.

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

import errno
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from netlab.errors import NetlabError
from netlab.kernel.objects import Fdb, Neigh, Route
from netlab.kernel.process import Proc, Spec
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

    def __init__(self) -> None:
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


class FakeNft:
    """The Nft seam in memory: each namespace's transactions in order, and its tables (made
    by `add table`/`table` lines, gone with `delete table`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.tables: dict[str, set[tuple[str, str]]] = {}

    def apply(self, ns: str, text: str) -> None:
        self.calls.append((ns, text))
        tables = self.tables.setdefault(ns, set())
        for line in text.splitlines():
            words = line.split()
            if words[:2] in (["add", "table"], ["create", "table"]) and len(words) >= 4:
                tables.add((words[2], words[3]))
            elif words[:1] == ["table"] and len(words) >= 3:
                tables.add((words[1], words[2]))
            elif words[:2] == ["delete", "table"] and len(words) >= 4:
                if (words[2], words[3]) not in tables:
                    raise NetlabError(f"nft in {ns} failed: Error: No such file or directory")
                tables.discard((words[2], words[3]))

    def list_table(self, ns: str, family: str, table: str) -> str | None:
        if (family, table) not in self.tables.get(ns, set()):
            return None
        return f"table {family} {table} {{\n}}\n"


class FakeIpset:
    """The Ipset seam in memory, as `ipset restore` and `ipset save` treat sets: namespace ->
    set name -> (type, members in the order added); create, add, del, flush, destroy."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, tuple[str, list[str]]]] = {}
        self.calls: list[tuple[str, str]] = []

    def restore(self, ns: str, text: str) -> None:
        self.calls.append((ns, text))
        sets = self.sets.setdefault(ns, {})
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split()
            if not words:
                continue
            op, name, rest = words[0], words[1], words[2:]
            if op != "create" and name not in sets:
                raise NetlabError(f"ipset restore in {ns} failed: line {number}: set {name} does not exist")
            if op == "create":
                if name in sets:
                    raise NetlabError(f"ipset restore in {ns} failed: line {number}: set {name} exists")
                sets[name] = (rest[0], [])
            elif op == "add":
                sets[name][1].append(" ".join(rest))
            elif op == "del":
                members = sets[name][1]
                members[:] = [m for m in members if m.split()[0] != rest[0]]
            elif op == "flush":
                sets[name][1].clear()
            elif op == "destroy":
                del sets[name]

    def save(self, ns: str) -> str:
        lines = []
        for name, (kind, members) in self.sets.get(ns, {}).items():
            lines.append(f"create {name} {kind} family inet hashsize 1024 maxelem 65536")
            lines += [f"add {name} {m}" for m in members]
        return "\n".join(lines) + "\n" if lines else ""


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


# ---- the Namespace and Kernel seams ------------------------------------------------------

def _gone(what: str) -> OSError:
    return OSError(errno.ENOENT, f"{what}: no such object")


@dataclass
class _Link:
    index: int
    kind: str
    mtu: int
    mac: str | None = None
    master: int | None = None
    up: bool = False
    addresses: set[str] = field(default_factory=set)
    peer: tuple[str, str] | None = None       # (namespace, link name) of a veth's other end
    hairpin: bool = False


class FakeNamespace:
    """One namespace's links, addresses, routes, neighbours, FDB and sysctls, as the kernel
    keeps them: a name or an index is unique, a route or an address needs its link, deleting a
    link deletes its veth peer, its addresses, routes, neighbours and FDB entries, and what
    is deleted and not there is the kernel's "gone" error (which the real one ignores too)."""

    def __init__(self, kernel: "FakeKernel", name: str):
        self.kernel, self.name = kernel, name
        self.links: dict[str, _Link] = {"lo": _Link(1, "loopback", 65536)}
        self.route_set: set[Route] = set()
        self.neighs: dict[tuple[str, str], tuple[str, bool]] = {}    # (dst, dev) -> (lladdr, permanent)
        self.fdb_set: set[Fdb] = set()
        self.sysctls: dict[str, str] = {}

    def _op(self, op: str, *args) -> None:
        self.kernel.record(self.name, op, args)

    def _by_index(self, idx: int) -> tuple[str, _Link]:
        for name, link in self.links.items():
            if link.index == idx:
                return name, link
        raise OSError(errno.ENODEV, f"no link with index {idx} in {self.name}")

    def _new(self, name: str, link: _Link) -> int:
        if name in self.links or any(x.index == link.index for x in self.links.values()):
            raise OSError(errno.EEXIST, f"link {name} (index {link.index}) exists in {self.name}")
        self.links[name] = link
        return link.index

    def _next_index(self, idx: int | None) -> int:
        return idx or max(x.index for x in self.links.values()) + 1

    def sysctl(self, key: str, value: str | int) -> None:
        self._op("sysctl", key, value)
        self.sysctls[key] = str(value)

    def index(self, name: str) -> int:
        if name not in self.links:
            raise LookupError(f"no interface {name}")
        return self.links[name].index

    def up(self, idx: int) -> None:
        self._op("up", idx)
        link = self._by_index(idx)[1]
        link.up = True
        if link.kind == "loopback":          # the kernel gives lo its address when it comes up
            link.addresses.add("127.0.0.1/8")

    def add_bridge(self, name: str, mtu: int, mac: str | None = None) -> int:
        self._op("add_bridge", name, mtu, mac)
        return self._new(name, _Link(self._next_index(None), "bridge", mtu, mac))

    def add_veth(self, name: str, peer: str, peer_netns: str, mtu: int, master: int | None = None,
                 idx: int | None = None, peer_idx: int | None = None) -> int:
        self._op("add_veth", name, peer, peer_netns, mtu, master, idx, peer_idx)
        other = self.kernel.namespace(peer_netns)
        if master is not None:
            self._by_index(master)
        index = self._new(name, _Link(self._next_index(idx), "veth", mtu, master=master, up=True,
                                      peer=(peer_netns, peer)))
        try:
            other._new(peer, _Link(other._next_index(peer_idx), "veth", mtu, peer=(self.name, name)))
        except OSError:
            del self.links[name]
            raise
        return index

    def set_hairpin(self, idx: int) -> None:
        self._op("set_hairpin", idx)
        self._by_index(idx)[1].hairpin = True

    def add_vxlan(self, name: str, vni: int, port: int, local: str, dev: int, mtu: int, mac: str) -> int:
        self._op("add_vxlan", name, vni, port, local, dev, mtu, mac)
        self._by_index(dev)
        return self._new(name, _Link(self._next_index(None), "vxlan", mtu, mac))

    def del_link(self, idx: int) -> None:
        self._op("del_link", idx)
        try:
            name, link = self._by_index(idx)
        except OSError:
            return                                  # gone already: as the real one, no error
        self._drop(name)
        if link.peer and self.kernel.namespace_exists(link.peer[0]):
            self.kernel.namespace(link.peer[0])._drop(link.peer[1])

    def _drop(self, name: str) -> None:
        self.links.pop(name, None)
        self.route_set = {r for r in self.route_set if r.dev != name}
        self.neighs = {k: v for k, v in self.neighs.items() if k[1] != name}
        self.fdb_set = {f for f in self.fdb_set if f.dev != name}

    def addresses(self, idx: int) -> set[str]:
        return set(self._by_index(idx)[1].addresses)

    def add_addr(self, idx: int, cidr: str) -> None:
        self._op("add_addr", idx, cidr)
        link = self._by_index(idx)[1]
        if cidr in link.addresses:
            raise OSError(errno.EEXIST, f"address {cidr} exists")
        link.addresses.add(cidr)

    def del_addr(self, idx: int, cidr: str) -> None:
        self._op("del_addr", idx, cidr)
        self._by_index(idx)[1].addresses.discard(cidr)

    def add_route(self, r: Route, oif: int | None = None) -> None:
        self._op("add_route", r, oif)
        self.index(r.dev)
        self.route_set = {x for x in self.route_set if x.dst != r.dst} | {r}      # replace

    def del_route(self, r: Route) -> None:
        self._op("del_route", r)
        self.route_set.discard(r)

    def routes(self, dev: str) -> set[Route]:
        self.index(dev)
        return {r for r in self.route_set if r.dev == dev}

    def replace_neigh(self, n: Neigh, permanent: bool = True) -> None:
        self._op("replace_neigh", n, permanent)
        self.index(n.dev)
        self.neighs[(n.dst, n.dev)] = (n.lladdr, permanent)

    def del_neigh(self, n: Neigh) -> None:
        self._op("del_neigh", n)
        self.index(n.dev)
        self.neighs.pop((n.dst, n.dev), None)

    def neighbours(self, dev: str, permanent_only: bool = False) -> set[Neigh]:
        self.index(dev)
        return {Neigh(dst, mac, d) for (dst, d), (mac, permanent) in self.neighs.items()
                if d == dev and (permanent or not permanent_only)}

    def replace_fdb(self, f: Fdb) -> None:
        self._op("replace_fdb", f)
        self.index(f.dev)
        self.fdb_set = {x for x in self.fdb_set if (x.lladdr, x.dev) != (f.lladdr, f.dev)} | {f}

    def del_fdb(self, f: Fdb) -> None:
        self._op("del_fdb", f)
        self.fdb_set.discard(f)

    def fdbs(self, dev: str) -> set[Fdb]:
        self.index(dev)
        return {f for f in self.fdb_set if f.dev == dev}

    def snapshot(self) -> dict:
        """In the shape netlab.kernel.links.Netlink.snapshot reads the real kernel."""
        by_index = {x.index: n for n, x in self.links.items()}
        return {name: {"kind": x.kind, "mtu": x.mtu, "up": x.up,
                       "master": by_index.get(x.master) if x.master else None,
                       "addresses": sorted(x.addresses),
                       "routes": sorted([r.dst, r.dev, r.gateway, r.onlink] for r in self.route_set
                                        if r.dev == name),
                       "neighbours": sorted([dst, mac, d] for (dst, d), (mac, permanent) in self.neighs.items()
                                            if d == name and permanent),
                       "fdb": sorted([f.lladdr, f.dev, f.dst] for f in self.fdb_set if f.dev == name)}
                for name, x in self.links.items()}


class FakeKernel:
    """The Kernel seam in memory. Every change is recorded in `calls` (namespace, operation,
    arguments), so a test can replay it against the real kernel. `fail(op)` makes the next
    call of that operation fail as the kernel would; `crash(name)` ends a process;
    `not_ready` holds namespaces whose probes never answer; `programs` what a started
    program does (nothing runs: a test says, say, that flanneld writes its ready file)."""

    def __init__(self) -> None:
        self.namespaces: dict[str, FakeNamespace] = {}
        self.files: dict[tuple[str, str], str] = {}
        self.iptables = FakeIptables()
        self.iptables_nft = FakeIptables()
        self.nft = FakeNft()
        self.ipset = FakeIpset()
        self.processes: dict[int, Proc] = {}            # running, by pid
        self.stopped: dict[str, float] = {}             # process name -> the time it was given to end
        self.conntrack: dict[str, set[tuple[str, str]]] = {}   # ns -> (original daddr, reply saddr), UDP
        self.not_ready: set[str] = set()
        self.calls: list[tuple[str, str, tuple]] = []
        self._failures: dict[str, OSError] = {}
        self._pid = 1000
        # program name -> what it does when started (a test's stand-in for, say, flanneld
        # writing its ready file)
        self.programs: dict[str, Callable[[Spec], None]] = {}

    def record(self, ns: str, op: str, args: tuple) -> None:
        self.calls.append((ns, op, args))
        failure = self._failures.pop(op, None)
        if failure is not None:
            raise failure

    def fail(self, op: str, error: OSError | None = None) -> None:
        self._failures[op] = error or OSError(errno.EBUSY, f"{op}: injected failure")

    def namespace(self, name: str) -> FakeNamespace:
        if name not in self.namespaces:
            raise FileNotFoundError(errno.ENOENT, f"no network namespace {name}")
        return self.namespaces[name]

    def create_namespaces(self, names) -> None:
        for n in names:
            self.record(n, "create_namespace", ())
            if n in self.namespaces:
                raise FileExistsError(errno.EEXIST, f"network namespace {n} exists")
            self.namespaces[n] = FakeNamespace(self, n)

    def remove_namespaces(self, names) -> None:
        for n in names:
            self.record(n, "remove_namespace", ())
            gone = self.namespaces.pop(n, None)
            for link in (gone.links.values() if gone else ()):
                if link.peer and link.peer[0] in self.namespaces:
                    self.namespaces[link.peer[0]]._drop(link.peer[1])
            self.iptables.tables.pop(n, None)
            self.iptables_nft.tables.pop(n, None)
            self.nft.tables.pop(n, None)
            self.ipset.sets.pop(n, None)
            self.conntrack.pop(n, None)
            self.files = {k: v for k, v in self.files.items() if k[0] != n}

    def namespace_exists(self, name: str) -> bool:
        return name in self.namespaces

    def netns_file(self, ns: str, name: str, text: str) -> None:
        self.files[(ns, name)] = text

    def run_many(self, jobs) -> list:
        return [fn(self.namespace(ns), *args) for ns, fn, args in jobs]

    def run_in(self, ns: str, fn, *args):
        return fn(self.namespace(ns), *args)

    def start_many(self, specs) -> list[Proc | OSError]:
        out: list[Proc | OSError] = []
        for s in specs:
            if s.box.netns not in self.namespaces:
                out.append(OSError(errno.ENOENT, f"{s.name}: no network namespace {s.box.netns}"))
                continue
            self._pid += 1
            proc = Proc(s.name, self._pid, 1, s.box.netns, list(s.argv))
            self.processes[proc.pid] = proc
            out.append(proc)
            argv = list(s.argv)
            if argv and os.path.basename(argv[0]) == "netlab-supervise":
                argv = argv[argv.index("--") + 1:]      # what it keeps running
            program = self.programs.get(os.path.basename(argv[0]) if argv else "")
            if program:
                program(s)
        return out

    def alive(self, proc: Proc) -> bool:
        return self.processes.get(proc.pid) == proc

    def stop(self, procs, timeout: float | Sequence[float] = 1.0) -> None:
        limits = timeout if isinstance(timeout, Sequence) else [timeout] * len(procs)
        for p, limit in zip(procs, limits):
            if self.alive(p):
                del self.processes[p.pid]
                self.stopped[p.name] = limit

    def kill_in(self, namespaces, timeout: float = 1.0) -> int:
        pids = [pid for pid, p in self.processes.items() if p.netns in set(namespaces)]
        for pid in pids:
            del self.processes[pid]
        return len(pids)

    def crash(self, name: str) -> None:
        pid = next(pid for pid, p in self.processes.items() if p.name == name)
        del self.processes[pid]

    def running(self) -> set[str]:
        return {p.name for p in self.processes.values()}

    def forget_udp_to(self, ns: str, keep: dict[str, set[str]]) -> int:
        entries = self.conntrack.get(ns, set())
        gone = {(dst, src) for dst, src in entries if dst in keep and src not in keep[dst]}
        self.conntrack[ns] = entries - gone
        return len(gone)

    def wait_ready(self, probes: dict[str, list[int]], on_ready) -> set[str]:
        ready = [ns for ns in probes if ns not in self.not_ready]
        if ready:
            on_ready(ready)
        return set(ready)
