"""`netlab probe`: the reachability matrix of a running lab's pods, measured (see reach.py).

Exit status as diff's: 0 (no --expect, or every cell as expected), 1 (a cell differs
from --expect), 2 (bad input: unknown lab, pod or host, bad port or file; one line).
What it prints on standard output is itself an --expect file (its last line is a comment).
"""
from __future__ import annotations

import re
import time

from netlab import layout
from netlab.errors import NetlabError
from netlab.kernel import netns
from netlab.reachability import PROTOCOLS, Matrix, compare, differences, parse, pretty, probe_name, summary
from netlab.state import LabRecord
from netlab.teardown import default_name

DIFFERS, BAD_INPUT = 1, 2
_PORT = re.compile(r"^(\d+)(?:/([A-Za-z]+))?$")
_REQUIREMENT = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$")


def probe_command(args, say, err) -> int:
    try:
        return _run(args, say)
    except NetlabError as e:
        err(f"netlab: {e}")
        return BAD_INPUT


def ports(values: list[str] | None) -> list[tuple[str, int]]:
    """--port PORT[/PROTO] values (default 80/TCP), in order, each once."""
    found: list[tuple[str, int]] = []
    for text in values or ["80"]:
        m = _PORT.match(text.strip())
        proto = (m.group(2) or "TCP").upper() if m else ""
        if not m or proto not in PROTOCOLS or not 1 <= int(m.group(1)) <= 65535:
            raise NetlabError(f"probe: --port {text!r} must be PORT[/PROTO]: a port 1-65535, "
                              f"a protocol tcp, udp or sctp (e.g. 81/udp)")
        if (proto, int(m.group(1))) not in found:
            found.append((proto, int(m.group(1))))
    return found


def selector(text: str | None) -> list[tuple[str, str, str]]:
    """-l KEY=VALUE[,KEY!=VALUE...] -> [(key, op, value)], as kubectl's equality selectors."""
    if not text:
        return []
    found = []
    for part in text.split(","):
        m = _REQUIREMENT.match(part.strip())
        if not m:
            raise NetlabError(f"probe: -l {text!r}: {part.strip()!r} must be KEY=VALUE, KEY==VALUE or KEY!=VALUE")
        found.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return found


def _selected(labels: dict[str, str], requirements) -> bool:
    return all((labels.get(k) == v) == (op == "=") for k, op, v in requirements)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 600:
        raise NetlabError(f"probe: --timeout {text!r} must be a number of seconds, more than 0 and at most 600")
    return value


def _endpoints(args, c):
    from netlab.probe.reach import Endpoint
    if args.namespace and args.all_namespaces:
        raise NetlabError("probe: give -n NAMESPACE or -A, not both")
    requirements = selector(args.selector)
    pods = sorted((p for p in c.pods if (not args.namespace or p.namespace == args.namespace)
                   and _selected(p.labels, requirements)), key=lambda p: (p.namespace, p.name))
    if not pods:
        where = f" in namespace {args.namespace!r}" if args.namespace else ""
        raise NetlabError(f"probe: no pods{where}" + (f" match -l {args.selector!r}" if args.selector else "")
                          + f" in lab {c.name!r} (netlab get pods -A --name {c.name})")
    sources = []
    for p in pods:
        ns = layout.pod_ns(c.name, p)
        if not p.ip or not netns.exists(ns):
            raise NetlabError(f"probe: pod {p.namespace}/{p.name} has no network (netlab get pods -A)")
        sources.append(Endpoint(f"{p.namespace}/{p.name}", ns, p.ip))
    hosts = {h.name: h for h in c.hosts}
    extra = []
    for name in dict.fromkeys(args.host or []):
        if name not in hosts:
            raise NetlabError(f"probe: --host {name!r} is not an outside host of lab {c.name!r} "
                              f"(hosts: {', '.join(sorted(hosts)) or 'none'})")
        extra.append(Endpoint(name, layout.host_ns(c.name, name), hosts[name].ip))
    return sources, sources + extra


def _expectations(path: str, probed: list[tuple[str, int]]) -> dict[tuple[str, int], Matrix]:
    """The file's matrix for every probed port: its own section, or its one headless matrix."""
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise NetlabError(f"probe: --expect {path}: {getattr(e, 'strerror', None) or e}") from None
    found = parse(text, path)
    if len(found) == 1 and not found[0].protocol:
        return {p: found[0] for p in probed}
    sections = {(m.protocol, m.port): m for m in found}
    for p in sections:
        if p not in probed:
            raise NetlabError(f"probe: {path} has a matrix for {p[0]}/{p[1]}, which is not probed "
                              f"(--port {p[1]}/{p[0].lower()})")
    for p in probed:
        if p not in sections:
            raise NetlabError(f"probe: {path} has no matrix for {p[0]}/{p[1]}")
    return sections


def _run(args, say) -> int:
    from netlab.probe import reach
    lab = LabRecord(default_name(args.name))
    if not lab.dir.exists():
        raise NetlabError(f"lab {lab.name!r} is not running (netlab up --name {lab.name})")
    c = lab.cluster()
    probed, timeout = ports(args.port), _timeout(args.timeout)
    sources, targets = _endpoints(args, c)
    expected = _expectations(args.expect, probed) if args.expect else {}

    t = time.monotonic()
    try:
        observed = reach.probe(sources, targets, probed, timeout)
        took = time.monotonic() - t
    finally:        # what was sent is forgotten, also when the probe failed half-way
        nodes = [ns for ns in (layout.node_ns(c.name, n.name) for n in c.nodes) if netns.exists(ns)]
        reach.forget_udp_flows(nodes, reach.udp_flows(sources, targets, probed))
    comparisons = [(m, compare(expected[(m.protocol, m.port)], m)) for m in observed] if expected else []

    for m in observed:
        say(pretty(m) + "\n")
    differ = False
    for m, agree in comparisons:
        lines = differences(expected[(m.protocol, m.port)], m)
        differ = differ or bool(lines)
        say("\n".join([pretty(agree, title=f"comparison {probe_name(m)} (. as expected, X differs)"),
                       summary(agree), *lines]) + "\n")
    cells = [v for m in observed for v in m.allowed.values()]
    say(f"# probed {len(sources)} pods x {len(targets)} targets on {', '.join(probe_name(m) for m in observed)} "
        f"in {took:.2f}s: {sum(cells)} of {len(cells)} cells open")
    return DIFFERS if differ else 0
