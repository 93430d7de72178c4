"""`netlab export`: what a failed test leaves to read later, as `kind export logs` does for a
kind cluster. One directory:

    objects/<kind>.yaml        the lab's objects as `netlab get KIND -A -o yaml` prints them
                               (Secrets' values redacted)
    logs/                      every process's log (pods, kubelets, flanneld, hosts)
    namespaces/<netns>/        per network namespace of the lab: ip -d addr, ip -d route,
                               ip -d neigh, bridge fdb, iptables-legacy-save -c and
                               iptables-nft-save -c (the two backends), nft list ruleset
                               (the nftables proxier's table), ipset save, conntrack -L
    pcaps/                     captures taken during the test (--pcap)
Everything is read, nothing in the lab changes; a namespace gone meanwhile is noted, not fatal.
"""
from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from netlab.errors import NetlabError
from netlab.state import LabRecord

LAYOUT = (__doc__ or "").split("One directory:\n\n", 1)[-1].split("\nEverything", 1)[0]
KINDS = ("pods", "services", "endpoints", "deployments", "nodes", "ingresses", "networkpolicies", "configmaps",
         "secrets")
# file name -> the command, run inside the namespace (`ip -n`, `bridge -n`, or ip netns exec)
PER_NAMESPACE = {
    "ip-addr.txt": ["ip", "-d", "addr"],
    "ip-route.txt": ["ip", "-d", "route", "show", "table", "all"],
    "ip-neigh.txt": ["ip", "-d", "neigh"],
    "bridge-fdb.txt": ["bridge", "fdb", "show"],
    "iptables.txt": ["iptables-legacy-save", "-c"],
    "iptables-nft.txt": ["iptables-nft-save", "-c"],
    "nft.txt": ["nft", "list", "ruleset"],
    "ipset.txt": ["ipset", "save"],
    "conntrack.txt": ["conntrack", "-L"],
}


def _run(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"# {' '.join(argv)}: {e}\n"
    return r.stdout + (f"# {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}\n" if r.returncode else "")


def _redacted(text: str) -> str:
    doc = yaml.safe_load(text) or {}
    for item in doc.get("items", []):
        for key in ("data", "stringData"):
            if isinstance(item.get(key), dict):
                item[key] = {k: "<redacted>" for k in item[key]}
    return yaml.safe_dump(doc, sort_keys=False)


def export(lab: LabRecord, out: Path, pcaps: list[Path] | None = None, say=lambda line: None) -> dict[str, int]:
    """Write the bundle into `out` (made if missing, must be empty); returns files per part."""
    state = lab.state()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NetlabError(f"export: {out} exists and is not an empty directory")
    for pcap in pcaps or []:
        if not pcap.is_file():
            raise NetlabError(f"export: --pcap {pcap}: no such file")
    out.mkdir(parents=True, exist_ok=True)
    counts = {"objects": 0, "logs": 0, "namespaces": 0, "pcaps": 0}
    (out / "objects").mkdir()
    cli = [sys.executable, "-m", "netlab.cli"]
    for kind in KINDS:
        r = subprocess.run(cli + ["get", kind, "-A", "-o", "yaml", "--name", lab.name], capture_output=True, text=True)
        text = r.stdout if r.returncode == 0 else f"# netlab get {kind}: {r.stderr.strip()}\n"
        (out / "objects" / f"{kind}.yaml").write_text(_redacted(text) if kind == "secrets" and r.returncode == 0
                                                      else text)
        counts["objects"] += 1
    say(f"  objects: {len(KINDS)} kinds")
    logs = out / "logs"
    logs.mkdir()
    if lab.dir.logs.is_dir():
        for f in sorted(lab.dir.logs.iterdir()):
            if f.is_file():
                shutil.copyfile(f, logs / f.name)
                counts["logs"] += 1
    say(f"  logs: {counts['logs']} files")
    spaces = out / "namespaces"
    spaces.mkdir()
    for ns in state.get("namespaces", []):
        d = spaces / ns
        d.mkdir()
        if not os.path.exists(f"/run/netns/{ns}"):
            (d / "GONE.txt").write_text(f"network namespace {ns} did not exist at the export\n")
            continue
        for name, argv in PER_NAMESPACE.items():
            (d / name).write_text(_run(["ip", "netns", "exec", ns, *argv]))
        counts["namespaces"] += 1
    say(f"  namespaces: {counts['namespaces']} (ip, bridge, iptables, ipset, conntrack)")
    if pcaps:
        (out / "pcaps").mkdir()
        for pcap in pcaps:
            shutil.copyfile(pcap, out / "pcaps" / pcap.name)
            counts["pcaps"] += 1
    (out / "README.txt").write_text(
        f"netlab export of lab {lab.name!r}, {datetime.datetime.now().isoformat(timespec='seconds')}\n\n"
        + LAYOUT + "\n"
        + "\n".join(f"{k}: {v}" for k, v in counts.items()) + "\n")
    return counts
