"""A packet's walk through a node's filter FORWARD chain as netlab's policy rules write it: a
small interpreter of the matches and targets those rules use, so unit tests can compare the
rules with the evaluator without a kernel. Anything else in a rule is an error, not ignored."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from netlab.policy.rules import IPSet


@dataclass
class Packet:
    src: str
    dst: str
    protocol: str          # tcp | udp | sctp
    dport: int
    in_dev: str
    out_dev: str
    mark: int = 0


def _in_set(s: IPSet, packet: Packet, side: str) -> bool:
    if s.type == "hash:ip":
        return (packet.src if side == "src" else packet.dst) in s.members
    if s.type == "hash:ip,port":
        return f"{packet.dst},{packet.protocol}:{packet.dport}" in s.members
    addr = ip_address(packet.src if side == "src" else packet.dst)
    best = None
    for m in s.members:
        net, _, flag = m.partition(" ")
        n = ip_network(net if "/" in net else net + "/32")
        if addr in n and (best is None or n.prefixlen > best[0]):
            best = (n.prefixlen, flag)
    return best is not None and best[1] != "nomatch"


def _matches(words: list[str], packet: Packet, sets: dict[str, IPSet]) -> tuple[bool, list[str]]:
    """(does the rule match, its target words)."""
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-j", "-g"):
            return True, words[i:]
        if w == "-s":
            ok = ip_address(packet.src) in ip_network(words[i + 1])
        elif w == "-d":
            ok = ip_address(packet.dst) in ip_network(words[i + 1])
        elif w == "-i":
            ok = packet.in_dev == words[i + 1]
        elif w == "-o":
            ok = packet.out_dev == words[i + 1]
        elif w == "-p":
            ok = packet.protocol == words[i + 1]
        elif w == "-m" and words[i + 1] in ("comment", "tcp", "udp", "sctp", "set", "mark", "conntrack"):
            i += 2
            continue
        elif w == "--comment":
            ok = True
        elif w == "--dport":
            lo, _, hi = words[i + 1].partition(":")
            ok = int(lo) <= packet.dport <= int(hi or lo)
        elif w == "--match-set":
            ok = _in_set(sets[words[i + 1]], packet, words[i + 2].split(",")[0])
            i += 1
        elif w == "--mark":
            value, mask = (int(x, 16) for x in words[i + 1].split("/"))
            ok = packet.mark & mask == value
        elif w == "--ctstate":
            ok = "NEW" in words[i + 1].split(",")        # every simulated packet opens a connection
        else:
            raise ValueError(f"the simulator does not know {w!r} in {' '.join(words)}")
        if not ok:
            return False, []
        i += 2
    raise ValueError(f"no target in {' '.join(words)}")


def verdict(chains: dict[str, list[str]], sets: dict[str, IPSet], packet: Packet, chain: str = "FORWARD") -> str:
    """ACCEPT or DROP: what the chain and the chains it calls decide (a built-in chain ends in ACCEPT)."""
    result = _walk(chains, sets, packet, chain)
    return "ACCEPT" if result in (None, "RETURN") else result


def _walk(chains, sets, packet: Packet, chain: str) -> str | None:
    for rule in chains.get(chain, []):
        words = shlex.split(rule)[2:]
        ok, target = _matches(words, packet, sets)
        if not ok:
            continue
        op, name = target[0], target[1]
        if name == "MARK":
            value, mask = (int(x, 16) for x in target[3].split("/"))
            packet.mark = (packet.mark & ~mask) | value
        elif name in ("ACCEPT", "DROP"):
            return name
        elif name == "RETURN":
            return "RETURN"
        else:
            result = _walk(chains, sets, packet, name)
            if op == "-g":
                return result
            if result in ("ACCEPT", "DROP"):
                return result
    return None
