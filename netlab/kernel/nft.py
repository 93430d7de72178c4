"""nftables in a lab namespace: `nft -f -` applies a whole transaction atomically (a packet
meets the ruleset before it or after it), `nft list` reads a table back."""
from __future__ import annotations

from typing import Protocol

from netlab.errors import NetlabError
from netlab.kernel.iptables import run_in


class Nft(Protocol):
    """What netlab asks of nftables in a namespace (netlab.kernel.fake.FakeNft stands in)."""

    def apply(self, ns: str, text: str) -> None: ...

    def list_table(self, ns: str, family: str, table: str) -> str | None: ...


class _Nft:
    def apply(self, ns: str, text: str) -> None:
        if text.strip():
            run_in(ns, ["nft", "-f", "-"], text)

    def list_table(self, ns: str, family: str, table: str) -> str | None:
        """`nft list table` output, or None when there is no such table."""
        try:
            return run_in(ns, ["nft", "list", "table", family, table])
        except NetlabError as e:
            if "No such file or directory" in str(e):
                return None
            raise


REAL: Nft = _Nft()
