#!/usr/bin/env python3
"""kube-proxy flavours at scale: sync times, kernel memory and a new connection's latency.

    python bench/proxy_scale.py [--services 100,1000,5000,10000] [--endpoints 10]
        [--flavours iptables-seed,iptables-nft,iptables-legacy,nftables] [--samples 2000]
        [--json out.json]

Flavours (a lab's proxy_mode and iptables_backend): iptables-seed (the walk-through's
proxier, legacy x_tables), iptables-nft and iptables-legacy (today's iptables proxier on
either backend of iptables), nftables (today's nftables proxier, table `ip kube-proxy`).

Per flavour and size, through the lab's own code (flavours.desired on a Cluster of S
services x E endpoints, then proxier.sync / proxier.sync_nft into a fresh namespace):
- full sync: model -> rules in the kernel of a fresh node (build and apply also apart);
- one endpoint change: one endpoint of one service replaced, model -> rules in the
  kernel through the incremental path (median of 3 services); "in kernel" until the
  write carrying it has returned (the proxier's cache, and in nftables mode the deletion
  of the chains an earlier change left stale, come after it);
- kernel memory: /proc/meminfo Slab + VmallocUsed + Percpu after the sync minus before
  (machine-wide: noisy when other work runs);
- connection latency: TCP connect() from a client namespace (the pod) through the node to
  the cluster IP of the first and the last service in the rule order, a fresh connection
  per sample, a server namespace accepting and closing; p50/p99 next to the baseline, the
  endpoint's own IP before the node has any rule.
Run as root; it creates only namespaces named b16p-<pid>-* and removes them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from proxy import cluster  # noqa: E402

from netlab.kernel import iptables, netns, nft  # noqa: E402
from netlab.kube_proxy import flavours, proxier  # noqa: E402
from netlab.model.objects import EndpointAddress  # noqa: E402

FLAVOURS = {                       # name -> (proxy_mode, iptables backend)
    "iptables-seed": ("iptables-seed", "legacy"),
    "iptables-nft": ("iptables", "nft"),
    "iptables-legacy": ("iptables", "legacy"),
    "nftables": ("nftables", "nft"),
}
PREFIX = f"b16p-{os.getpid()}"
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(4096); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""


def sh(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True, capture_output=True)


def meminfo() -> float:
    """Slab + VmallocUsed + Percpu, MiB, machine-wide."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, v = line.split(":", 1)
        fields[k] = int(v.split()[0])
    return (fields["Slab"] + fields["VmallocUsed"] + fields.get("Percpu", 0)) / 1024


def quiet_meminfo() -> float:
    time.sleep(0.5)
    return statistics.median(meminfo() for _ in range(3))


def rule_order(tables, ruleset, c) -> tuple[int, int]:
    """Indexes of the services whose cluster IP the dataplane meets first and last."""
    if ruleset is not None:      # nftables: one map lookup, no order; the first and last created
        return 0, len(c.services) - 1
    ips = {s.cluster_ip: i for i, s in enumerate(c.services)}
    seen = []
    for rule in tables["nat"].chains.get("KUBE-SERVICES", []):
        m = re.search(r"-d (\d+\.\d+\.\d+\.\d+)(?:/32)? ", rule)
        if m and m.group(1) in ips and (not seen or seen[-1] != ips[m.group(1)]):
            seen.append(ips[m.group(1)])
    return seen[0], seen[-1]


def plumb(node: str, client: str, server: str, endpoint_ips: list[str]) -> None:
    """client (10.77.0.2) -- node -- server (the endpoints' addresses), all in our namespaces."""
    sh(node, "ip", "link", "add", "to-client", "type", "veth", "peer", "name", "eth0", "netns", client)
    sh(node, "ip", "link", "add", "to-server", "type", "veth", "peer", "name", "eth0", "netns", server)
    sh(node, "ip", "addr", "add", "10.77.0.1/24", "dev", "to-client")
    sh(node, "ip", "addr", "add", "10.78.0.1/24", "dev", "to-server")
    for ns in (node, client, server):
        sh(ns, "ip", "link", "set", "lo", "up")
    sh(node, "ip", "link", "set", "to-client", "up")
    sh(node, "ip", "link", "set", "to-server", "up")
    sh(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    sh(client, "ip", "addr", "add", "10.77.0.2/24", "dev", "eth0")
    sh(client, "ip", "link", "set", "eth0", "up")
    sh(client, "ip", "route", "add", "default", "via", "10.77.0.1")
    sh(server, "ip", "addr", "add", "10.78.0.2/24", "dev", "eth0")
    sh(server, "ip", "link", "set", "eth0", "up")
    sh(server, "ip", "route", "add", "default", "via", "10.78.0.1")
    for ip in endpoint_ips:
        sh(server, "ip", "addr", "add", f"{ip}/32", "dev", "lo")
        sh(node, "ip", "route", "add", f"{ip}/32", "via", "10.78.0.2")


def connect_times(client: str, targets: list[tuple[str, int]], samples: int) -> list[list[float]]:
    """connect() times in µs, per target, the targets taken in turn."""
    def run():
        out: list[list[float]] = [[] for _ in targets]
        for _ in range(samples):
            for i, (ip, port) in enumerate(targets):
                s = socket.socket()
                s.settimeout(2)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                t = time.perf_counter_ns()
                s.connect((ip, port))
                out[i].append((time.perf_counter_ns() - t) / 1000)
                s.close()
        return out
    return netns.run_in(client, run)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Stamped:
    """An iptables or nft seam that notes when its first write of a sync has returned: the
    change is in the kernel then (what the proxier does after, its cache and the deletion
    of stale nftables chains, is not on that path)."""

    def __init__(self, inner):
        self.inner, self.first = inner, None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _stamped(self, fn, *args, **kwargs):
        out = fn(*args, **kwargs)
        self.first = self.first or time.perf_counter()
        return out

    def apply(self, *args, **kwargs):
        return self._stamped(self.inner.apply, *args, **kwargs)

    def restore(self, *args, **kwargs):
        return self._stamped(self.inner.restore, *args, **kwargs)


def measure(flavour: str, services: int, endpoints: int, samples: int, tmp: Path) -> dict:
    mode, backend = FLAVOURS[flavour]
    c = cluster(services, endpoints)
    c.proxy_mode, c.iptables_backend = mode, backend
    ipt = iptables.NFT if backend == "nft" else iptables.LEGACY
    node, client, server = f"{PREFIX}-node", f"{PREFIX}-client", f"{PREFIX}-server"
    row: dict = {"flavour": flavour, "services": services, "endpoints": endpoints}
    t = time.perf_counter()
    want = flavours.desired(c)["node1"]
    row["build_s"] = time.perf_counter() - t
    first, last = rule_order(want.tables, want.nft, c)
    eps = [a.ip for i in (first, last) for a in c.endpoints[i].addresses]
    netns.create([node, client, server])
    srv = None
    try:
        plumb(node, client, server, eps)
        srv = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", SERVER],
                               stdout=subprocess.PIPE, text=True)
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
        base = connect_times(client, [(eps[0], 8080)], samples)[0]
        row["base_p50_us"], row["base_p99_us"] = pct(base, 50), pct(base, 99)
        cache_ipt, cache_nft = tmp / f"{flavour}-{services}.json", tmp / f"{flavour}-{services}.pickle"
        before = quiet_meminfo()
        t = time.perf_counter()
        proxier.sync(node, want.tables, cache_ipt, ipt)
        proxier.sync_nft(node, want.nft, cache_nft, nft.REAL)
        row["apply_s"] = time.perf_counter() - t
        row["full_s"] = row["build_s"] + row["apply_s"]
        row["mem_mib"] = quiet_meminfo() - before
        if want.nft is not None:
            row["rule_lines"] = nft.REAL.list_table(node, "ip", "kube-proxy").count("\n")   # type: ignore[union-attr]
        else:
            row["rule_lines"] = ipt.save(node).count("\n-A ")
        times = connect_times(client, [(c.services[first].cluster_ip, 80), (c.services[last].cluster_ip, 80)], samples)
        for name, xs in zip(("first", "last"), times):
            row[f"{name}_p50_us"], row[f"{name}_p99_us"] = pct(xs, 50), pct(xs, 99)
        changes, builds, in_kernel = [], [], []
        for k, i in enumerate((services // 2, services // 3, services // 4)):
            addrs = c.endpoints[i].addresses
            addrs[-1] = EndpointAddress(f"10.99.{k}.{i % 250 + 1}")   # one endpoint replaced
            stamped_ipt, stamped_nft = Stamped(ipt), Stamped(nft.REAL)
            t = time.perf_counter()
            want = flavours.desired(c)["node1"]
            b = time.perf_counter()
            proxier.sync(node, want.tables, cache_ipt, stamped_ipt)
            proxier.sync_nft(node, want.nft, cache_nft, stamped_nft)
            changes.append(time.perf_counter() - t)
            builds.append(b - t)
            carrier = stamped_nft if want.nft is not None else stamped_ipt
            in_kernel.append((carrier.first or time.perf_counter()) - b)
        row["change_s"] = statistics.median(changes)
        row["change_build_s"] = statistics.median(builds)
        row["change_apply_s"] = statistics.median(x - y for x, y in zip(changes, builds))
        row["change_kernel_s"] = statistics.median(in_kernel)
    finally:
        if srv is not None:
            srv.kill()
            srv.wait()
        for n in (node, client, server):
            if netns.exists(n):
                netns.remove(n)
    return row


COLUMNS = (("flavour", "flavour", "{}"), ("services", "services", "{}"), ("rule_lines", "rules", "{}"),
           ("build_s", "build s", "{:.3f}"), ("apply_s", "apply s", "{:.3f}"), ("full_s", "full sync s", "{:.3f}"),
           ("change_kernel_s", "change in kernel ms", "{:.0f}"), ("change_apply_s", "change apply ms", "{:.0f}"),
           ("change_s", "change ms", "{:.0f}"), ("mem_mib", "kmem MiB", "{:.1f}"), ("base_p50_us", "base p50/p99 µs", "{:.0f}"),
           ("first_p50_us", "first p50/p99 µs", "{:.0f}"), ("last_p50_us", "last p50/p99 µs", "{:.0f}"))


def cell(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    if key in ("change_s", "change_apply_s", "change_kernel_s"):
        v = v * 1000
    text = fmt.format(v)
    if key.endswith("_p50_us"):
        text += "/" + fmt.format(row[key.replace("p50", "p99")])
    return text


def table(rows: list[dict]) -> str:
    lines = [" | ".join(h for _, h, _ in COLUMNS)]
    lines += [" | ".join(cell(r, k, f) for k, _, f in COLUMNS) for r in rows]
    return "\n".join(lines)


def svg(runs: list[list[dict]], key: str, title: str, unit: str, scale: float = 1.0) -> str:
    """A log-log line plot of `key` against services, one line per flavour and run."""
    w, h, left, bottom, top, right = 560, 340, 60, 40, 30, 150
    colours = {"iptables-seed": "#c0392b", "iptables-nft": "#2471a3", "iptables-legacy": "#7d3c98",
               "nftables": "#229954"}
    import math
    pts = [(r["services"], r[key] * scale) for rows in runs for r in rows if r.get(key)]
    xs, ys = [p[0] for p in pts], [max(p[1], 1e-3) for p in pts]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    y1 = max(y1, y0 + 1)

    def px(v):
        return left + (math.log10(v) - x0) / max(x1 - x0, 1e-9) * (w - left - right)

    def py(v):
        return h - bottom - (math.log10(max(v, 1e-3)) - y0) / (y1 - y0) * (h - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="18" font-size="13">{title} ({unit}, log scale)</text>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for v in sorted(set(xs)):
        out.append(f'<text x="{px(v):.1f}" y="{h - bottom + 16}" text-anchor="middle">{v:,}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 6}" text-anchor="middle">'
               'services (10 endpoints each)</text>')
    legend = 0
    for n, rows in enumerate(runs):
        for f in dict.fromkeys(r["flavour"] for r in rows):
            line = [(r["services"], r[key] * scale) for r in rows if r["flavour"] == f and r.get(key)]
            if not line:
                continue
            d = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in line)
            dash = ' stroke-dasharray="4 3"' if n else ""
            out.append(f'<polyline points="{d}" fill="none" stroke="{colours.get(f, "#333")}" stroke-width="2"{dash}/>')
            out += [f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2.5" fill="{colours.get(f, "#333")}"/>'
                    for a, b in line]
            ly = top + 14 * legend
            out.append(f'<line x1="{w - right + 10}" x2="{w - right + 30}" y1="{ly}" y2="{ly}" '
                       f'stroke="{colours.get(f, "#333")}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{w - right + 34}" y="{ly + 4}">{f} run {n + 1}</text>')
            legend += 1
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(paths: list[Path], docs: Path, name: str = "kube-proxy-scale") -> None:
    """Both runs' tables with the spread, and the SVG plots, written under docs/."""
    runs = [json.loads(p.read_text())["rows"] for p in paths]
    keys = (("full_s", "full sync s", 1, "{:.2f}"), ("apply_s", "apply s", 1, "{:.2f}"),
            ("change_kernel_s", "change in kernel ms", 1000, "{:.0f}"),
            ("change_apply_s", "change apply ms", 1000, "{:.0f}"), ("change_s", "change ms", 1000, "{:.0f}"),
            ("mem_mib", "kmem MiB", 1, "{:.1f}"), ("base_p50_us", "base p50 µs", 1, "{:.0f}"),
            ("base_p99_us", "base p99 µs", 1, "{:.0f}"), ("first_p50_us", "first p50 µs", 1, "{:.0f}"),
            ("first_p99_us", "first p99 µs", 1, "{:.0f}"), ("last_p50_us", "last p50 µs", 1, "{:.0f}"),
            ("last_p99_us", "last p99 µs", 1, "{:.0f}"))
    lines = ["| flavour | services | rules | " + " | ".join(h for _, h, _, _ in keys) + " |",
             "|" + "---|" * (3 + len(keys))]
    second = {(r["flavour"], r["services"]): r for r in runs[1]} if len(runs) > 1 else {}
    for r in runs[0]:
        o = second.get((r["flavour"], r["services"]))
        cells = []
        for k, _, sc, fmt in keys:
            if k not in r:                    # (a run of a bench without this figure)
                cells.append("-")
                continue
            a = r[k] * sc
            if o is None or k not in o:
                cells.append(fmt.format(a))
                continue
            b = o[k] * sc
            spread = abs(a - b) / max(abs(a), abs(b), 1e-9) * 100
            cells.append(f"{fmt.format(a)} / {fmt.format(b)} ({spread:.0f}%)")
        lines.append(f"| {r['flavour']} | {r['services']:,} | {r['rule_lines']:,} | " + " | ".join(cells) + " |")
    docs.joinpath(f"{name}-table.md").write_text("\n".join(lines) + "\n")
    docs.joinpath(f"{name}-sync.svg").write_text(svg(runs, "full_s", "Full sync, model to kernel", "s"))
    docs.joinpath(f"{name}-change.svg").write_text(
        svg(runs, "change_apply_s", "One endpoint change, diff and apply", "ms", 1000))
    docs.joinpath(f"{name}-latency.svg").write_text(
        svg(runs, "last_p50_us", "connect() to the last service, p50", "µs"))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--services", default="100,1000,5000,10000")
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--flavours", default=",".join(FLAVOURS))
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--report", type=Path, nargs="+", metavar="RUN.json",
                    help="write docs/kube-proxy-scale-* from the --json files of runs, then exit")
    ap.add_argument("--report-name", default="kube-proxy-scale", help="file name prefix under docs/ for --report")
    a = ap.parse_args()
    if a.report:
        report(a.report, Path(__file__).resolve().parent.parent / "docs", a.report_name)
        return 0
    if os.geteuid() != 0:
        print("bench/proxy_scale.py: must be run as root", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sizes = [int(x) for x in a.services.split(",")]
    names = a.flavours.split(",")
    unknown = [n for n in names if n not in FLAVOURS]
    if unknown:
        print(f"unknown flavour(s) {unknown}; known: {', '.join(FLAVOURS)}", file=sys.stderr)
        return 2
    rows = []
    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for s in sizes:
            for f in names:
                row = measure(f, s, a.endpoints, a.samples, Path(tmp))
                row["load1"] = os.getloadavg()[0]
                rows.append(row)
                print(table([row]).splitlines()[1], flush=True)
                if a.json:
                    a.json.write_text(json.dumps({"rows": rows, "samples": a.samples}, indent=1))
    print(f"load after: {os.getloadavg()}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
