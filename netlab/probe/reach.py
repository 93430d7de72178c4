"""Reachability measured with real connections: every source to every target, per port.

`probe` forks ONE child process (nothing to start or import: a 30x30 matrix takes a
fraction of a second) that dies with its parent (PR_SET_PDEATHSIG) and is always
reaped. A socket belongs to the network namespace it was created in, so the child

1. enters each target's namespace and opens a listener on 0.0.0.0:PORT there: TCP and
   SCTP listen (and every incoming connection is accepted and closed, so the backlog
   never fills), UDP echoes each datagram back. EADDRINUSE means the pod's own server
   listens there already: the probe relies on it (a TCP connection it accepts counts as
   connected; on UDP it must answer the datagram, which is a DNS query, or the cell
   reads blocked);
2. enters each source's namespace and starts a non-blocking connect to every target
   (UDP: a connected socket sends a datagram, resent RESENDS times within the timeout);
3. goes back to its own namespace and runs one selector loop until every cell is
   decided or the timeout has passed. Connected: the connect completed (SO_ERROR 0), or
   the echo came back. Refused, unreachable or no answer in time: blocked.

The diagonal is never probed over the network (a pod reaching its own IP goes over its
loopback, and Kubernetes' e2e tests ignore it): a source's cell to itself is True.
Traffic runs only between the lab's namespaces: the child refuses to open a socket in
the host's own namespace.

The probe's UDP datagrams leave conntrack entries in the nodes they cross: the caller
removes them with `forget_udp_flows`, so that a later probe under other rules does not
ride on an old entry.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import selectors
import signal
import socket
import time
from dataclasses import dataclass

from netlab.errors import NetlabError
from netlab.kernel import conntrack, netns
from netlab.reachability import PROTOCOLS, Matrix

RESENDS = 3                 # UDP datagrams per cell within the timeout (one may be lost to ARP)
# A DNS query (probe.netlab. A): our echo returns it as it is, and a pod's own DNS server
# on the port (kube-dns on 53/UDP) answers it, if only to refuse, so that counts as connected.
PAYLOAD = b"nl\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05probe\x06netlab\x00\x00\x01\x00\x01"
BACKLOG = 4096
SETUP_GRACE = 30.0          # how long the child may take beyond the timeout (sockets of a large lab)
PR_SET_PDEATHSIG = 1
_TRANSPORT = {"TCP": (socket.SOCK_STREAM, socket.IPPROTO_TCP), "UDP": (socket.SOCK_DGRAM, socket.IPPROTO_UDP),
              "SCTP": (socket.SOCK_STREAM, getattr(socket, "IPPROTO_SCTP", 132))}


@dataclass(frozen=True)
class Endpoint:
    label: str          # "namespace/pod", or an outside host's name
    netns: str          # its network namespace (a lab's, never the host's)
    ip: str


def probe(sources: list[Endpoint], targets: list[Endpoint], ports: list[tuple[str, int]],
          timeout: float = 1.0) -> list[Matrix]:
    """One matrix per (protocol, port), rows `sources`, columns `targets`, in their order."""
    ports = [(proto.upper(), int(port)) for proto, port in ports]
    for proto, port in ports:
        if proto not in PROTOCOLS or not 1 <= port <= 65535:
            raise NetlabError(f"cannot probe {proto}/{port} (TCP, UDP or SCTP, port 1-65535)")
    cells = _in_child(lambda: _measure(sources, targets, ports, timeout), timeout + SETUP_GRACE)
    matrices = {p: Matrix(p[0], p[1], [s.label for s in sources], [t.label for t in targets], {}) for p in ports}
    for proto, port, src, dst, connected in cells:
        matrices[(proto, port)].allowed[(src, dst)] = connected
    return [matrices[p] for p in ports]


def udp_flows(sources: list[Endpoint], targets: list[Endpoint],
              ports: list[tuple[str, int]]) -> set[tuple[str, str, int]]:
    """(source ip, target ip, port) of every UDP datagram a probe sends."""
    return {(s.ip, t.ip, int(port)) for proto, port in ports if proto.upper() == "UDP"
            for s in sources for t in targets if s.label != t.label}


def forget_udp_flows(namespaces: list[str], flows: set[tuple[str, str, int]]) -> int:
    """Delete, in each of these (node) namespaces, the UDP conntrack entries of these flows
    (original direction: source, destination, destination port); returns how many."""
    def work():
        from pyroute2 import Conntrack
        from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
        netns.guard_not_root()
        deleted = 0
        ct = Conntrack()
        try:
            for entry in list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP))):
                t = entry.tuple_orig
                if (t.saddr, t.daddr, t.dport) in flows:
                    deleted += conntrack.delete(ct, entry)
        finally:
            ct.close()
        return deleted
    if not flows or not namespaces:
        return 0
    return sum(netns.run_many([(ns, work, (), {}) for ns in namespaces], workers=len(namespaces)))


# ---- the parent's side: fork, read the answer, reap -------------------------------

def _in_child(work, limit: float):
    """work() in a forked child; its JSON result, or its one-line error as NetlabError."""
    parent = os.getpid()
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:                                    # the child: never returns
        status, out = 2, {"error": "the probe failed"}
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with(parent)
            out, status = {"result": work()}, 0
        except BaseException as e:                  # noqa: BLE001 - one line for the parent
            out = {"error": str(e) if isinstance(e, (NetlabError, RuntimeError)) else f"{type(e).__name__}: {e}"}
        finally:
            try:
                data = json.dumps(out).encode()
                while data:
                    data = data[os.write(w, data):]
            finally:
                os._exit(status)
    os.close(w)
    try:
        data = _read(r, time.monotonic() + limit)
    finally:
        os.close(r)
        _reap(pid)
    try:
        answer = json.loads(data)
    except ValueError:
        raise NetlabError("the probe's process ended without an answer") from None
    if "error" in answer:
        raise NetlabError(f"probe: {answer['error']}")
    return answer["result"]


def _read(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise NetlabError("the probe's process did not finish in time")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    """Wait for the child; kill it first if it still runs (an error or Ctrl-C in the parent)."""
    if os.waitpid(pid, os.WNOHANG) == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _die_with(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:                     # the parent died before prctl
        os._exit(1)


# ---- the child's side ---------------------------------------------------------------

def _enter(name: str) -> None:
    netns.setns(name)
    netns.guard_not_root()      # a namespace path that is the host's own: no traffic there


def _open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed <= soft:
        return
    if needed > hard:
        with open("/proc/sys/fs/nr_open") as f:
            if needed > int(f.read()):
                raise NetlabError(f"a probe of this size needs {needed} open files, more than fs.nr_open")
        hard = needed
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _socket(proto: str) -> socket.socket:
    kind, number = _TRANSPORT[proto]
    try:
        return socket.socket(socket.AF_INET, kind | socket.SOCK_NONBLOCK, number)
    except OSError as e:
        if e.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
            raise NetlabError(f"cannot probe {proto}: this kernel has no {proto} sockets "
                              f"({os.strerror(e.errno)})") from None
        raise


def _listen(proto: str, port: int) -> socket.socket | None:
    """A listener on 0.0.0.0:port in the current namespace; None if the pod's own server has it."""
    s = _socket(proto)
    if proto != "UDP":          # our own earlier connections in TIME_WAIT must not keep us out
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port))
    except OSError as e:
        s.close()
        if e.errno == errno.EADDRINUSE:
            return None
        raise
    if proto != "UDP":
        s.listen(BACKLOG)
    return s


def _measure(sources: list[Endpoint], targets: list[Endpoint], ports: list[tuple[str, int]], timeout: float):
    _open_files(len(sources) * len(targets) * len(ports) + len(targets) * len(ports) + 64)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    sel = selectors.DefaultSelector()
    cells: dict[tuple[str, int, str, str], bool] = {}
    udp: dict[socket.socket, tuple] = {}           # undecided UDP cells, to resend on
    try:
        for t in targets:
            _enter(t.netns)
            for proto, port in ports:
                listener = _listen(proto, port)
                if listener:
                    sel.register(listener, selectors.EVENT_READ, ("echo" if proto == "UDP" else "accept",))
        for s in sources:
            _enter(s.netns)
            for t in targets:
                for proto, port in ports:
                    cell = (proto, port, s.label, t.label)
                    if s.label == t.label:
                        cells[cell] = True             # the diagonal: never over the network
                        continue
                    sock = _socket(proto)
                    try:
                        if proto == "UDP":
                            sock.connect((t.ip, port))     # only the target's answer (and ICMP errors) come back
                            sock.send(PAYLOAD)
                            udp[sock] = cell
                            sel.register(sock, selectors.EVENT_READ, ("udp", cell))
                        elif sock.connect_ex((t.ip, port)) in (0, errno.EINPROGRESS):
                            sel.register(sock, selectors.EVENT_WRITE, ("connect", cell))
                        else:
                            cells[cell] = False            # refused or unreachable at once
                            sock.close()
                    except OSError:
                        cells[cell] = False
                        udp.pop(sock, None)
                        sock.close()
        netns.setns(f"/proc/self/fd/{home}")
        _loop(sel, cells, udp, len(sources) * len(targets) * len(ports), timeout)
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()     # type: ignore[union-attr]
        sel.close()
        os.close(home)
    return [[*cell, value] for cell, value in cells.items()]


def _loop(sel, cells: dict, udp: dict, total: int, timeout: float) -> None:
    start = time.monotonic()
    resends = [start + timeout * i / RESENDS for i in range(1, RESENDS)]

    def decide(sock, cell, value: bool) -> None:
        cells[cell] = value
        udp.pop(sock, None)
        sel.unregister(sock)
        sock.close()

    while len(cells) < total:
        now = time.monotonic()
        if now >= start + timeout:
            break
        if resends and now >= resends[0]:
            resends.pop(0)
            for sock in udp:
                try:
                    sock.send(PAYLOAD)
                except OSError:
                    pass            # an ICMP error of an earlier datagram: recv reports it
        for key, _ in sel.select(min([start + timeout, *resends[:1]]) - now):
            kind, sock = key.data[0], key.fileobj
            if kind == "accept":            # close what arrives: the connect side has its answer
                while True:
                    try:
                        sock.accept()[0].close()
                    except (BlockingIOError, ConnectionAbortedError):
                        break
            elif kind == "echo":
                while True:
                    try:
                        data, peer = sock.recvfrom(2048)
                        sock.sendto(data, peer)
                    except BlockingIOError:
                        break
                    except OSError:
                        continue    # a peer's ICMP error on our echo socket: nothing to do
            elif kind == "connect":
                decide(sock, key.data[1], sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
            else:
                try:
                    sock.recv(2048)
                    decide(sock, key.data[1], True)
                except BlockingIOError:
                    pass
                except OSError:         # ECONNREFUSED, EHOSTUNREACH: an ICMP error came back
                    decide(sock, key.data[1], False)
    for key in list(sel.get_map().values()):
        if key.data[0] in ("connect", "udp"):
            decide(key.fileobj, key.data[1], False)     # no answer in time: blocked
