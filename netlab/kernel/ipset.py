"""ipsets in a lab namespace (each network namespace has its own), through `ipset restore`
and `ipset save`: one process for a whole batch of sets."""
from __future__ import annotations

from typing import Protocol

from netlab.kernel import iptables

IPSET = "ipset"


class Ipset(Protocol):
    """The seam (netlab.kernel.fake.FakeIpset stands in for it in tests)."""

    def restore(self, ns: str, text: str) -> None: ...

    def save(self, ns: str) -> str: ...


class _Real:
    def restore(self, ns: str, text: str) -> None:
        if text.strip():
            iptables.run_in(ns, [IPSET, "restore"], text)

    def save(self, ns: str) -> str:
        return iptables.run_in(ns, [IPSET, "save"])


REAL: Ipset = _Real()
