"""Subnet leases, the records flannel keeps in etcd under /coreos.com/network/subnets/.

One file per node in the lab's lease directory, named as flannel's etcd key
(`172.30.9.0-24`), holding the same JSON value flannel writes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from netlab.layout import stable_mac
from netlab.model.objects import Cluster, Node


@dataclass(frozen=True, order=True)
class Lease:
    subnet: str
    public_ip: str
    vtep_mac: str

    @property
    def key(self) -> str:
        return self.subnet.replace("/", "-")

    def to_json(self) -> str:
        return json.dumps({"PublicIP": self.public_ip, "BackendType": "vxlan",
                           "BackendData": {"VtepMAC": self.vtep_mac}})

    @classmethod
    def from_json(cls, key: str, text: str) -> "Lease":
        d = json.loads(text)
        return cls(key.replace("-", "/"), d["PublicIP"], d["BackendData"]["VtepMAC"])


def vtep_mac(lab: str, node: str) -> str:
    """A stable, locally administered unicast MAC for a node's flannel.1."""
    return stable_mac(0x0e, lab, node, "vtep")


def lease_of(c: Cluster, node: Node) -> Lease:
    return Lease(node.pod_cidr, node.ip, vtep_mac(c.name, node.name))


class Store:
    """The lease directory: writes are atomic renames, so a reader never sees half a lease."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)

    def put(self, lease: Lease) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{lease.key}.tmp"
        tmp.write_text(lease.to_json())
        os.replace(tmp, self.dir / lease.key)

    def delete(self, subnet: str) -> None:
        try:
            (self.dir / subnet.replace("/", "-")).unlink()
        except FileNotFoundError:
            pass

    def all(self) -> list[Lease]:
        out = []
        try:
            entries = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            return []
        for key in entries:
            if key.startswith("."):
                continue
            try:
                out.append(Lease.from_json(key, (self.dir / key).read_text()))
            except (FileNotFoundError, ValueError, KeyError):
                continue  # removed or replaced while we looked
        return out

    def version(self) -> tuple:
        """Changes whenever a lease is added, replaced or removed."""
        try:
            st = os.stat(self.dir)
            return (st.st_mtime_ns, st.st_ino, len(os.listdir(self.dir)))
        except FileNotFoundError:
            return ()
