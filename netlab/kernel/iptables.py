"""iptables in a lab namespace, always the legacy backend (what python-iptables reads).

Bulk writes go through iptables-legacy-restore: one atomic commit per table, about 40x
faster than rule-by-rule through libiptc. Reading counters uses python-iptables.
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


def restore(ns: str, text: str, noflush: bool = True) -> None:
    """Apply iptables-restore input inside namespace `ns` (never the host's)."""
    if text.strip():
        run_in(ns, [RESTORE, "-w"] + (["--noflush"] if noflush else []), text)


def save(ns: str, table: str | None = None) -> str:
    return run_in(ns, [SAVE] + (["-t", table] if table else []))


class Iptables(Protocol):
    """What netlab asks of iptables in a namespace: the seam between the components that
    plan rules and the kernel (netlab.kernel.fake.FakeIptables stands in for it in tests)."""

    def restore(self, ns: str, text: str, noflush: bool = True) -> None: ...

    def save(self, ns: str, table: str | None = None) -> str: ...


class _Legacy:
    """The kernel's iptables, through iptables-legacy-restore and -save."""

    def restore(self, ns: str, text: str, noflush: bool = True) -> None:
        restore(ns, text, noflush)

    def save(self, ns: str, table: str | None = None) -> str:
        return save(ns, table)


LEGACY: Iptables = _Legacy()


def counters(ns: str, table: str, chain: str) -> list[tuple[str, int, int]]:
    """(target, packets, bytes) per rule of a chain, read with python-iptables."""
    def read():
        import iptc
        t = iptc.Table(table)
        t.refresh()
        return [(r.target.name, *r.get_counters()) for r in iptc.Chain(t, chain).rules]
    return netns.run_in(ns, read)
