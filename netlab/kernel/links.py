"""Netlink operations with pyroute2, inside the calling thread's namespace.

Every function takes an IPRoute opened by `netlink()` in the same thread (pyroute2
0.9 handles are bound to the thread that uses them).
"""
from __future__ import annotations

import contextlib
import errno
import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netlab.kernel import netns
from netlab.kernel.objects import Fdb, Neigh, Route

NUD_PERMANENT = 0x80
NUD_REACHABLE = 0x02
NTF_SELF = 0x02
RTNH_F_ONLINK = 0x04
RTPROT_BOOT = 3


@contextlib.contextmanager
def netlink():
    netns.guard_not_root()
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def index(ipr: IPRoute, name: str) -> int:
    # a targeted RTM_GETLINK: link_lookup() would dump every link, quadratic on a busy node
    try:
        return ipr.link("get", ifname=name)[0]["index"]
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            raise LookupError(f"no interface {name}") from None
        raise


def up(ipr: IPRoute, idx: int) -> None:
    ipr.link("set", index=idx, state="up")


def add_bridge(ipr: IPRoute, name: str, mtu: int, mac: str | None = None) -> int:
    """A bridge; with a MAC given, it keeps it (else it takes its lowest port's MAC and
    changes it as ports come and go, stranding every neighbour that cached the old one)."""
    ipr.link("add", ifname=name, kind="bridge", mtu=mtu, **({"address": mac} if mac else {}))
    return index(ipr, name)


def add_veth(ipr: IPRoute, name: str, peer: str, peer_netns: str, mtu: int,
             master: int | None = None, idx: int | None = None, peer_idx: int | None = None) -> int:
    """A veth pair whose peer is created straight inside another namespace; our end is up.

    Giving the indexes saves a look-up per pod (each netlink request costs ~0.3 ms here).
    """
    fd = netns.open_fd(peer_netns)
    try:
        kwargs = {"master": master} if master else {}
        if idx:
            kwargs["index"] = idx
        peer_spec = {"ifname": peer, "net_ns_fd": fd, "mtu": mtu}
        if peer_idx:
            peer_spec["index"] = peer_idx
        ipr.link("add", ifname=name, kind="veth", mtu=mtu, state="up", peer=peer_spec, **kwargs)
    finally:
        netns.close_fd(fd)
    return idx or index(ipr, name)


def set_hairpin(ipr: IPRoute, idx: int) -> None:
    ipr.brport("set", index=idx, mode=1)   # IFLA_BRPORT_MODE 1: hairpin


def add_vxlan(ipr: IPRoute, name: str, vni: int, port: int, local: str, dev: int,
              mtu: int, mac: str) -> int:
    ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_port=port,
             vxlan_local=local, vxlan_link=dev, vxlan_learning=0, address=mac, mtu=mtu)
    return index(ipr, name)


def add_addr(ipr: IPRoute, idx: int, cidr: str) -> None:
    ip, plen = cidr.split("/")
    ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))


def _route_args(ipr: IPRoute, r: Route, oif: int | None = None) -> dict:
    # proto boot is what `ip route add` writes, so `ip route` prints no "proto" noise
    args = {"dst": "0.0.0.0/0" if r.dst == "default" else r.dst, "oif": oif or index(ipr, r.dev),
            "proto": RTPROT_BOOT}
    if r.gateway:
        args["gateway"] = r.gateway
    if r.onlink:
        args["flags"] = RTNH_F_ONLINK
    return args


def add_route(ipr: IPRoute, r: Route, oif: int | None = None) -> None:
    ipr.route("replace", **_route_args(ipr, r, oif))


def del_route(ipr: IPRoute, r: Route) -> None:
    with contextlib.suppress(NetlinkError):
        ipr.route("del", **_route_args(ipr, r))


def routes(ipr: IPRoute, dev: str) -> set[Route]:
    """Unicast routes of the main table leaving through `dev` (kernel-made ones too)."""
    idx = index(ipr, dev)
    out = set()
    for msg in ipr.get_routes(family=socket.AF_INET, table=254, oif=idx):
        dst = msg.get("RTA_DST")
        dst = f"{dst}/{msg['dst_len']}" if dst else "default"
        out.add(Route(dst, dev, msg.get("RTA_GATEWAY"), bool(msg["flags"] & RTNH_F_ONLINK)))
    return out


def replace_neigh(ipr: IPRoute, n: Neigh, permanent: bool = True) -> None:
    ipr.neigh("replace", dst=n.dst, lladdr=n.lladdr, ifindex=index(ipr, n.dev),
              state=NUD_PERMANENT if permanent else NUD_REACHABLE)


def del_neigh(ipr: IPRoute, n: Neigh) -> None:
    with contextlib.suppress(NetlinkError):
        ipr.neigh("del", dst=n.dst, ifindex=index(ipr, n.dev))


def neighbours(ipr: IPRoute, dev: str, permanent_only: bool = False) -> set[Neigh]:
    idx = index(ipr, dev)
    out = set()
    for msg in ipr.get_neighbours(family=socket.AF_INET, ifindex=idx):
        if permanent_only and not msg["state"] & NUD_PERMANENT:
            continue
        if msg.get("NDA_LLADDR"):
            out.add(Neigh(msg.get("NDA_DST"), msg.get("NDA_LLADDR"), dev))
    return out


def replace_fdb(ipr: IPRoute, f: Fdb) -> None:
    ipr.fdb("replace", ifindex=index(ipr, f.dev), lladdr=f.lladdr, dst=f.dst,
            state=NUD_PERMANENT, flags=NTF_SELF)


def del_fdb(ipr: IPRoute, f: Fdb) -> None:
    try:
        ipr.fdb("del", ifindex=index(ipr, f.dev), lladdr=f.lladdr, dst=f.dst, flags=NTF_SELF)
    except NetlinkError as e:
        if e.code != errno.ENOENT:
            raise


def fdbs(ipr: IPRoute, dev: str) -> set[Fdb]:
    """Unicast FDB entries with a remote destination (what flannel programs)."""
    idx = index(ipr, dev)
    out = set()
    for msg in ipr.fdb("dump", ifindex=idx):
        if msg["ifindex"] != idx or not msg.get("NDA_DST"):
            continue
        mac = msg.get("NDA_LLADDR")
        if mac and mac != "00:00:00:00:00:00":
            out.add(Fdb(mac, dev, msg.get("NDA_DST")))
    return out
