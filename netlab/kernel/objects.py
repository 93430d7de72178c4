"""Kernel state as plain values: what components want and what adapters read back."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Route:
    dst: str                       # "172.30.0.0/16", "default"
    dev: str
    gateway: str | None = None
    onlink: bool = False


@dataclass(frozen=True, order=True)
class Neigh:
    dst: str
    lladdr: str
    dev: str


@dataclass(frozen=True, order=True)
class Fdb:
    lladdr: str
    dev: str
    dst: str                       # remote VTEP address
