"""iptables in a lab namespace: the legacy backend (x_tables, what python-iptables reads),
or the nft one (iptables-nft: the same rules kept as nftables objects, what today's
distributions and kube-proxy use), a per-lab choice.

Bulk writes go through iptables-*-restore: one atomic commit per table, about 40x faster
than rule-by-rule through libiptc. Reading legacy counters uses python-iptables.
"""
from __future__ import annotations

import subprocess
from typing import Protocol

from netlab.errors import NetlabError
from netlab.kernel import netns

RESTORE = "iptables-legacy-restore"
SAVE = "iptables-legacy-save"


def run_in(ns: str, argv: list[str], text: str = "") -> str:
    """Run a netfilter tool inside namespace `ns`; its output, or one line saying why it failed."""
    try:
        r = subprocess.run(argv, input=text, capture_output=True, text=True, preexec_fn=netns.preexec(ns))
    except subprocess.SubprocessError:      # the child could not enter the namespace: removed meanwhile
        raise NetlabError(f"{argv[0]} in {ns} failed: no network namespace {ns!r} (removed?)") from None
    if r.returncode != 0:
        detail = (r.stderr.strip().splitlines() or ["no message"])[0]
        raise NetlabError(f"{argv[0]} in {ns} failed: {detail}")
    return r.stdout


def restore(ns: str, text: str, noflush: bool = True, tool: str = RESTORE) -> None:
    """Apply iptables-restore input inside namespace `ns` (never the host's)."""
    if text.strip():
        run_in(ns, [tool, "-w"] + (["--noflush"] if noflush else []), text)


def save(ns: str, table: str | None = None, tool: str = SAVE) -> str:
    return run_in(ns, [tool] + (["-t", table] if table else []))


class Iptables(Protocol):
    """What netlab asks of iptables in a namespace: the seam between the components that
    plan rules and the kernel (netlab.kernel.fake.FakeIptables stands in for it in tests)."""

    def restore(self, ns: str, text: str, noflush: bool = True) -> None: ...

    def save(self, ns: str, table: str | None = None) -> str: ...


class _Tools:
    """The kernel's iptables, through one backend's iptables-*-restore and -save."""

    def __init__(self, backend: str):
        self.backend = backend
        self.restore_tool, self.save_tool = f"iptables-{backend}-restore", f"iptables-{backend}-save"

    def restore(self, ns: str, text: str, noflush: bool = True) -> None:
        restore(ns, text, noflush, self.restore_tool)

    def save(self, ns: str, table: str | None = None) -> str:
        return save(ns, table, self.save_tool)


LEGACY: Iptables = _Tools("legacy")
NFT: Iptables = _Tools("nft")


def counters(ns: str, table: str, chain: str) -> list[tuple[str, int, int]]:
    """(target, packets, bytes) per rule of a chain, read with python-iptables."""
    def read():
        import iptc
        t = iptc.Table(table)
        t.refresh()
        return [(r.target.name, *r.get_counters()) for r in iptc.Chain(t, chain).rules]
    return netns.run_in(ns, read)
