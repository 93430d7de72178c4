"""The way a request took through kube-proxy's nftables table (pure): from the `services`
chain's verdict maps to the service's chain, the random choice (taken from conntrack, as
the iptables walk takes it) and the endpoint's DNAT. The nftables proxier's rules keep no
counters, so the evidence is the path and the kernel's own listing of each chain on it."""
from __future__ import annotations

import re

_GOTO = re.compile(r"\b(?:goto|jump) ((?:service|external|firewall)-\S+?)(?=[\s,}]|$)")


def path(rs, ip: str, proto: str, port: int, endpoint: str | None, local: set[str]) -> list[tuple[str, str]]:
    """(chain, rule) pairs a new connection to ip:port met, in order. `rs` is the node's
    nftables.Ruleset, `endpoint` "ip:port" as conntrack translated it, `local` the node's
    addresses (where NodePorts answer)."""
    services = rs.chains.get("services")
    if services is None:
        return []
    key = f"{ip} . {proto} . {port}"
    element = rs.elements.get("service-ips", {}).get(key)
    if element is not None:
        steps = [("services", f"{services.rules[0]}  ({key} : {element.value})")]
    elif ip in local and (element := rs.elements.get("service-nodeports", {}).get(f"{proto} . {port}")):
        steps = [("services", f"{services.rules[-1]}  ({proto} . {port} : {element.value})")]
    else:
        return []
    chain: str | None = element.value.split()[-1]
    wanted = f"__{endpoint.replace(':', '/')}" if endpoint else None
    seen: set[str] = set()
    while chain and chain in rs.chains and chain not in seen:
        seen.add(chain)
        following = None
        for rule in rs.chains[chain].rules:
            target = next((w.strip(",}") for w in rule.split() if wanted and w.strip(",}").endswith(wanted)), None)
            if target:
                steps.append((chain, rule))
                following = target
                break
            if "dnat to" in rule:
                steps.append((chain, rule))
                break
            if (m := _GOTO.search(rule)) and m.group(1) not in seen:
                steps.append((chain, rule))
                following = m.group(1)
                break
        chain = following
    return steps
