"""One network namespace through netlink (pyroute2): the real kernel.api.Namespace.

`netlink()` opens it inside the calling thread's namespace (pyroute2 0.9 handles are
bound to the thread that uses them); netlab.kernel.real enters the namespace first.
"""
from __future__ import annotations

import contextlib
import errno
import socket
from dataclasses import astuple

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netlab.kernel import netns, sysctl
from netlab.kernel.api import already_gone
from netlab.kernel.objects import Fdb, Neigh, Route

NUD_PERMANENT = 0x80
NUD_REACHABLE = 0x02
NTF_SELF = 0x02
RTNH_F_ONLINK = 0x04
RTPROT_BOOT = 3


@contextlib.contextmanager
def unless_gone():
    """Deleting what is not there (any more) is what was wanted; any other error is not."""
    try:
        yield
    except (NetlinkError, OSError) as e:
        if not already_gone(e):
            raise


@contextlib.contextmanager
def netlink(name: str = ""):
    netns.guard_not_root()
    ipr = IPRoute()
    try:
        yield Netlink(ipr, name)
    finally:
        ipr.close()


class Netlink:
    """Links, addresses, routes, neighbours, FDB and sysctls of the calling thread's namespace."""

    def __init__(self, ipr: IPRoute, name: str = ""):
        self.ipr, self.name = ipr, name

    def sysctl(self, key: str, value: str | int) -> None:
        sysctl.write(key, value)

    def index(self, name: str) -> int:
        # a targeted RTM_GETLINK: link_lookup() would dump every link, quadratic on a busy node
        try:
            return self.ipr.link("get", ifname=name)[0]["index"]
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                raise LookupError(f"no interface {name}") from None
            raise

    def up(self, idx: int) -> None:
        self.ipr.link("set", index=idx, state="up")

    def add_bridge(self, name: str, mtu: int, mac: str | None = None) -> int:
        """A bridge; with a MAC given, it keeps it (else it takes its lowest port's MAC and
        changes it as ports come and go, stranding every neighbour that cached the old one)."""
        self.ipr.link("add", ifname=name, kind="bridge", mtu=mtu, **({"address": mac} if mac else {}))
        return self.index(name)

    def add_veth(self, name: str, peer: str, peer_netns: str, mtu: int, master: int | None = None,
                 idx: int | None = None, peer_idx: int | None = None) -> int:
        """A veth pair whose peer is created straight inside another namespace; our end is up.

        Giving the indexes saves a look-up per pod (each netlink request costs ~0.3 ms here).
        """
        fd = netns.open_fd(peer_netns)
        try:
            kwargs: dict = {"master": master} if master else {}
            if idx:
                kwargs["index"] = idx
            peer_spec: dict = {"ifname": peer, "net_ns_fd": fd, "mtu": mtu}
            if peer_idx:
                peer_spec["index"] = peer_idx
            self.ipr.link("add", ifname=name, kind="veth", mtu=mtu, state="up", peer=peer_spec, **kwargs)
        finally:
            netns.close_fd(fd)
        return idx or self.index(name)

    def set_hairpin(self, idx: int) -> None:
        self.ipr.brport("set", index=idx, mode=1)   # IFLA_BRPORT_MODE 1: hairpin

    def add_vxlan(self, name: str, vni: int, port: int, local: str, dev: int, mtu: int, mac: str) -> int:
        self.ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_port=port,
                      vxlan_local=local, vxlan_link=dev, vxlan_learning=0, address=mac, mtu=mtu)
        return self.index(name)

    def del_link(self, idx: int) -> None:
        with unless_gone():
            self.ipr.link("del", index=idx)

    def addresses(self, idx: int) -> set[str]:
        return {f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}" for a in self.ipr.get_addr(index=idx, family=2)}

    def add_addr(self, idx: int, cidr: str) -> None:
        ip, plen = cidr.split("/")
        self.ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))

    def del_addr(self, idx: int, cidr: str) -> None:
        ip, plen = cidr.split("/")
        with unless_gone():
            self.ipr.addr("del", index=idx, address=ip, prefixlen=int(plen))

    def _route_args(self, r: Route, oif: int | None = None) -> dict:
        # proto boot is what `ip route add` writes, so `ip route` prints no "proto" noise
        args = {"dst": "0.0.0.0/0" if r.dst == "default" else r.dst, "oif": oif or self.index(r.dev),
                "proto": RTPROT_BOOT}
        if r.gateway:
            args["gateway"] = r.gateway
        if r.onlink:
            args["flags"] = RTNH_F_ONLINK
        return args

    def add_route(self, r: Route, oif: int | None = None) -> None:
        self.ipr.route("replace", **self._route_args(r, oif))

    def del_route(self, r: Route) -> None:
        with unless_gone():
            self.ipr.route("del", **self._route_args(r))

    def routes(self, dev: str) -> set[Route]:
        """Unicast routes of the main table leaving through `dev` (kernel-made ones too)."""
        idx = self.index(dev)
        out = set()
        for msg in self.ipr.get_routes(family=socket.AF_INET, table=254, oif=idx):
            dst = msg.get("RTA_DST")
            dst = f"{dst}/{msg['dst_len']}" if dst else "default"
            out.add(Route(dst, dev, msg.get("RTA_GATEWAY"), bool(msg["flags"] & RTNH_F_ONLINK)))
        return out

    def replace_neigh(self, n: Neigh, permanent: bool = True) -> None:
        self.ipr.neigh("replace", dst=n.dst, lladdr=n.lladdr, ifindex=self.index(n.dev),
                       state=NUD_PERMANENT if permanent else NUD_REACHABLE)

    def del_neigh(self, n: Neigh) -> None:
        with unless_gone():
            self.ipr.neigh("del", dst=n.dst, ifindex=self.index(n.dev))

    def neighbours(self, dev: str, permanent_only: bool = False) -> set[Neigh]:
        idx = self.index(dev)
        out = set()
        for msg in self.ipr.get_neighbours(family=socket.AF_INET, ifindex=idx):
            if permanent_only and not msg["state"] & NUD_PERMANENT:
                continue
            if msg.get("NDA_LLADDR"):
                out.add(Neigh(msg.get("NDA_DST"), msg.get("NDA_LLADDR"), dev))
        return out

    def replace_fdb(self, f: Fdb) -> None:
        self.ipr.fdb("replace", ifindex=self.index(f.dev), lladdr=f.lladdr, dst=f.dst,
                     state=NUD_PERMANENT, flags=NTF_SELF)

    def del_fdb(self, f: Fdb) -> None:
        with unless_gone():
            self.ipr.fdb("del", ifindex=self.index(f.dev), lladdr=f.lladdr, dst=f.dst, flags=NTF_SELF)

    def fdbs(self, dev: str) -> set[Fdb]:
        """Unicast FDB entries with a remote destination (what flannel programs)."""
        idx = self.index(dev)
        out = set()
        for msg in self.ipr.fdb("dump", ifindex=idx):
            if msg["ifindex"] != idx or not msg.get("NDA_DST"):
                continue
            mac = msg.get("NDA_LLADDR")
            if mac and mac != "00:00:00:00:00:00":
                out.add(Fdb(mac, dev, msg.get("NDA_DST")))
        return out

    def snapshot(self) -> dict:
        """What the namespace holds, in this interface's terms: per link its kind, MTU, state,
        bridge, addresses, the routes netlab made (not the kernel's own for an address),
        permanent neighbours and FDB entries. To compare the real kernel with the fake."""
        found = self.ipr.get_links()
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in found}
        ours: dict[int, list] = {}
        for msg in self.ipr.get_routes(family=socket.AF_INET, table=254):
            if msg["proto"] == RTPROT_BOOT:
                dst = msg.get("RTA_DST")
                ours.setdefault(msg.get("RTA_OIF"), []).append(
                    [f"{dst}/{msg['dst_len']}" if dst else "default", names.get(msg.get("RTA_OIF")),
                     msg.get("RTA_GATEWAY"), bool(msg["flags"] & RTNH_F_ONLINK)])
        links = {}
        for m in found:
            name = m.get_attr("IFLA_IFNAME")
            info = m.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info else ("loopback" if name == "lo" else "")
            master = m.get_attr("IFLA_MASTER")
            links[name] = {"kind": kind, "mtu": m.get_attr("IFLA_MTU"), "up": bool(m["flags"] & 1),
                           "master": names.get(master) if master else None,
                           "addresses": sorted(self.addresses(m["index"])),
                           "routes": sorted(ours.get(m["index"], [])),
                           "neighbours": sorted(list(astuple(n)) for n in self.neighbours(name, permanent_only=True)),
                           "fdb": sorted(list(astuple(f)) for f in self.fdbs(name)) if kind == "vxlan" else []}
        return links
