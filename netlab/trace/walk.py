"""One packet's way through a node's iptables rules, read from iptables-save text (pure).

The walk follows what the kernel does with the packet in a table's built-in chain: the rules
in order, jumps and gotos into user chains, RETURN, and the verdicts (ACCEPT, DROP, REJECT,
DNAT, MASQUERADE). Random choices (`-m statistic`) and affinity (`-m recent`) cannot be
replayed: the walk is told the outcome instead (`chosen`: the DNAT destination conntrack
recorded) and takes the rule that leads there. Each step names the chain, the rule's number
in it (as `iptables -L --line-numbers` counts) and its text, so a caller can put the kernel's
packet counters next to it.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network


@dataclass
class Packet:
    src: str
    dst: str
    protocol: str                      # tcp | udp | icmp
    dport: int = 0
    in_dev: str = ""
    out_dev: str = ""
    local: frozenset[str] = frozenset()  # the node's own addresses (addrtype LOCAL)
    mark: int = 0
    sets: dict[str, list[str]] = field(default_factory=dict)   # ipset name -> members


@dataclass
class Step:
    chain: str
    number: int                        # 1-based, in its chain
    rule: str                          # as iptables-save prints it
    target: str


@dataclass
class Walk:
    steps: list[Step]
    verdict: str                       # ACCEPT DROP REJECT (the built-in chain's policy when none)
    dnat: str | None = None            # ip:port the packet was sent to
    masquerade: bool = False


def chains(saved: str, table: str) -> dict[str, list[str]]:
    """table's chains (built-in and user) -> their rules, from iptables-save text."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in saved.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            current = line[1:]
        elif current != table:
            continue
        elif line.startswith(":"):
            out.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            out.setdefault(line.split()[1], []).append(line)
    return out


def _ip_in(value: str, net: str) -> bool:
    return ip_address(value) in ip_network(net, strict=False)


def _in_set(members: list[str], p: Packet, spec: str) -> bool:
    """ipset membership: hash:ip and hash:net by the longest prefix (`nomatch` entries
    exclude), hash:ip,port by destination address, protocol and port."""
    addr = p.src if spec.split(",")[0] == "src" else p.dst
    best: tuple[int, str] | None = None
    for m in members:
        entry, _, flag = m.partition(" ")
        if "," in entry:
            ip, _, port = entry.partition(",")
            if p.dst == ip and port == f"{p.protocol}:{p.dport}":
                return True
            continue
        net = ip_network(entry if "/" in entry else entry + "/32")
        if ip_address(addr) in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, flag)
    return best is not None and best[1] != "nomatch"


def matches(words: list[str], p: Packet) -> tuple[bool | None, list[str]]:
    """(True/False, or None when the rule's outcome is chance: statistic, recent), the target words."""
    i, chance = 0, False
    while i < len(words):
        w, negate = words[i], False
        if w == "!":
            negate, i = True, i + 1
            w = words[i]
        if w in ("-j", "-g"):
            return (None if chance else True), words[i:]
        arg = words[i + 1] if i + 1 < len(words) else ""
        step = 2
        if w == "-s":
            ok = _ip_in(p.src, arg)
        elif w == "-d":
            ok = _ip_in(p.dst, arg)
        elif w == "-i":
            ok = p.in_dev == arg or (arg.endswith("+") and p.in_dev.startswith(arg[:-1]))
        elif w == "-o":
            ok = p.out_dev == arg or (arg.endswith("+") and p.out_dev.startswith(arg[:-1]))
        elif w == "-p":
            ok = p.protocol == arg
        elif w == "-m":
            ok = True
        elif w in ("--comment", "--reject-with"):
            ok = True
        elif w == "--dport":
            lo, _, hi = arg.partition(":")
            ok = int(lo) <= p.dport <= int(hi or lo)
        elif w == "--dst-type":
            ok = (p.dst in p.local) == (arg == "LOCAL")
        elif w == "--ctstate":
            ok = "NEW" in arg.split(",")
        elif w == "--mark":
            value, _, mask = arg.partition("/")
            ok = p.mark & int(mask or "0xffffffff", 16) == int(value, 16)
        elif w == "--match-set":
            ok = _in_set(p.sets.get(arg, []), p, words[i + 2])
            step = 3
        elif w in ("--mode", "--probability", "--every", "--packet", "--name", "--mask", "--rsource",
                   "--rcheck", "--seconds", "--reap", "--set", "--rttl", "--hitcount"):
            chance = chance or w in ("--probability", "--rcheck")
            ok = True
            step = 1 if w in ("--rsource", "--rcheck", "--reap", "--set", "--rttl") else 2
        else:
            ok = True          # a match the walk does not know cannot refuse the packet here
        if ok == negate:
            return False, []
        i += step
    return (None if chance else True), []


def marked(mark: int, target: list[str]) -> int:
    """The packet's mark after `-j MARK ...`: xt_MARK computes (mark & ~mask) ^ value, which
    iptables-save prints as --set-xmark value/mask whatever the rule was written with."""
    for option, how in (("--set-xmark", None), ("--set-mark", None), ("--or-mark", "or"), ("--xor-mark", "xor"),
                        ("--and-mark", "and")):
        if option in target:
            value_text, _, mask_text = target[target.index(option) + 1].partition("/")
            value = int(value_text, 16)
            if how == "or":
                return mark | value
            if how == "xor":
                return mark ^ value
            if how == "and":
                return mark & value
            mask = int(mask_text, 16) if mask_text else 0xffffffff
            return ((mark & ~mask) ^ value) if option == "--set-xmark" else ((mark & ~mask) | value)
    return mark


def walk(rules: dict[str, list[str]], chain: str, p: Packet, chosen: str | None = None,
         policy: str = "ACCEPT") -> Walk:
    """The packet through built-in `chain` of one table (rules from chains())."""
    steps: list[Step] = []
    result = Walk(steps, policy)
    verdict = _walk(rules, chain, p, chosen, result, depth=0)
    if verdict not in (None, "RETURN"):
        result.verdict = verdict
    return result


def _leads_to(rules: dict[str, list[str]], chain: str, chosen: str, depth: int = 0) -> bool:
    if depth > 8:
        return False
    for rule in rules.get(chain, []):
        if f"--to-destination {chosen}" in rule:
            return True
        words = shlex.split(rule)
        for flag in ("-j", "-g"):
            if flag in words:
                target = words[words.index(flag) + 1]
                if target in rules and _leads_to(rules, target, chosen, depth + 1):
                    return True
    return False


def _walk(rules, chain: str, p: Packet, chosen, result: Walk, depth: int) -> str | None:
    if depth > 32:
        return None
    for number, rule in enumerate(rules.get(chain, []), 1):
        words = shlex.split(rule)[2:]
        ok, target = matches(words, p)
        if ok is False or not target:
            continue
        flag, name = target[0], target[1]
        if ok is None and not (chosen and name in rules and _leads_to(rules, name, chosen)):
            continue                          # chance, and not the way the packet went
        result.steps.append(Step(chain, number, rule, name))
        if name == "MARK":
            p.mark = marked(p.mark, target)
        elif name == "DNAT":
            result.dnat = target[target.index("--to-destination") + 1]
            return "ACCEPT"
        elif name in ("MASQUERADE", "SNAT"):
            result.masquerade = True
            return "ACCEPT"
        elif name in ("ACCEPT", "DROP", "REJECT"):
            return name
        elif name == "RETURN":
            return "RETURN"
        elif name in rules:
            verdict = _walk(rules, name, p, chosen, result, depth + 1)
            if flag == "-g":
                return verdict
            if verdict in ("ACCEPT", "DROP", "REJECT"):
                return verdict
    return None


def candidates(rules: dict[str, list[str]], chain: str, p: Packet, seen: set[str] | None = None) -> set[str]:
    """The chains a packet like p may visit from `chain`, every chance taken (the counters worth
    reading before the request: not every Service's chains)."""
    seen = set() if seen is None else seen
    if chain in seen:
        return seen
    seen.add(chain)
    for rule in rules.get(chain, []):
        words = shlex.split(rule)[2:]
        if "--mark" in words:               # marks are set on the way: any may hold
            words = words[:words.index("--mark") - 2] + words[words.index("--mark") + 2:] \
                if words[words.index("--mark") - 2:words.index("--mark")] == ["-m", "mark"] else words
        ok, target = matches(words, p)
        if ok is False or not target:
            continue
        name = target[1]
        if name in rules:
            candidates(rules, name, p, seen)
        if ok is True and name in ("DNAT", "ACCEPT", "DROP", "REJECT", "MASQUERADE", "SNAT"):
            break
    return seen
