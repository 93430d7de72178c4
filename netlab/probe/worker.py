"""The probe worker: a child process that does scapy work inside one network namespace.

scapy reads interfaces and routes once, in the namespace of the process that imports
it, so packets are captured and sent by `python -m netlab.probe.worker` started
inside the target namespace (setns before exec; see runner.py, the parent's side):

    capture IFACE [--count N] [--timeout T] [--filter BPF] [--write PCAP] [--lines] [--stream FILE]
        opens the capture socket (BPF attached), prints "ready", then one summary line
        per packet with --lines; ends after N packets, T seconds, SIGTERM or EOF on
        stdin (so a parent that dies never leaves a capture running).
        --stream appends records to FILE (made by the parent, which tails it: a file never
        blocks the worker as a full pipe would), each STREAM_HEAD (kind, time, length) and
        `length` bytes: b"L" the link type (before "ready"), b"P" a packet as captured,
        b"H" a heartbeat: every packet stamped before `time` is in the file already (the
        parent merges several workers by time with it; see sniffer.Merge).
    request
        reads one pickled request from stdin (packets to send, or to send and
        collect answers) and writes the pickled result to stdout.

Errors end the worker with one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import errno
import fcntl
import os
import pickle
import re
import select
import signal
import socket
import struct
import sys
import time

from typing import TYPE_CHECKING

from netlab.probe.runner import READY, STREAM_HEAD

if TYPE_CHECKING:
    from scapy.packet import Packet   # scapy is imported only where a worker needs it

SIOCGIFFLAGS = 0x8913
IFF_LOOPBACK = 0x8
HEARTBEAT = 0.1        # seconds between heartbeats of an idle --stream worker
HEARTBEAT_MARGIN = 0.02   # a packet is stamped a little before its socket has it: stay behind


# ---------------------------------------------------------------- child side

def _fail(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
    sys.exit(2)


def _is_loopback(iface: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", iface.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
    return bool(flags & IFF_LOOPBACK)


def _capture(opts) -> None:
    from scapy.arch.linux import L2ListenSocket
    from scapy.config import conf
    from scapy.error import Scapy_Exception
    from scapy.utils import PcapWriter

    from netlab.probe.decode import summary

    try:
        socket.if_nametoindex(opts.iface)
    except OSError:
        _fail(f"no interface {opts.iface!r}")
    bpf = opts.filter
    if _is_loopback(opts.iface):
        # on lo the kernel hands a packet socket each packet twice (sent and received);
        # keep one, as libpcap does
        bpf = f"inbound and ({bpf})" if bpf else "inbound"
    try:
        # The socket exists, is bound and has its filter before "ready": from then on
        # the kernel queues every matching packet for us, so the parent has no race.
        sock = L2ListenSocket(iface=opts.iface, filter=bpf)
    except Scapy_Exception as e:
        # scapy wraps tcpdump's message: "... expression 'x' (can't parse filter expression: ...)"
        why = re.search(r"\(([^()]*)\)\s*$", str(e))
        _fail(f"bad filter {opts.filter!r}: {why.group(1) if why else str(e).strip()}")
    except OSError as e:
        _fail(f"interface {opts.iface!r} is down" if e.errno == errno.ENETDOWN
              else f"cannot capture on {opts.iface!r}: {e.strerror}")

    stream = None
    if opts.stream:
        try:
            stream = out = os.open(opts.stream, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError as e:
            _fail(f"cannot write {opts.stream!r}: {e.strerror}")

        def record(kind: bytes, when: float, data: bytes = b"") -> None:
            os.write(out, struct.pack(STREAM_HEAD, kind, when, len(data)) + data)   # one write: one record

        record(b"L", 0.0, struct.pack("<I", conf.l2types.layer2num.get(sock.LL, 1)))

    writer = None
    if opts.write:
        try:
            writer = PcapWriter(opts.write, linktype=conf.l2types.layer2num.get(sock.LL, 1), sync=True)
            writer.write_header(None)   # a valid pcap even if nothing arrives
        except OSError as e:
            _fail(f"cannot write {opts.write!r}: {e.strerror}")

    # SIGTERM wakes select() through this pipe; the handler itself only records it
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda *_: None)

    print(READY, flush=True)
    deadline = time.monotonic() + opts.timeout if opts.timeout is not None else None
    seen = 0

    def take() -> None:
        nonlocal seen
        if stream is not None:   # the bytes as they came: the parent dissects them
            _, raw, stamp = sock.recv_raw(65535)
            if raw:
                seen += 1
                record(b"P", stamp or time.time(), raw)
            return
        pkt = sock.recv()
        if pkt is None:   # scapy drops what it cannot use
            return
        pkt.sniffed_on = opts.iface
        seen += 1
        if writer:
            writer.write(pkt)
        if opts.lines:
            print(summary(pkt, opts.iface), flush=True)

    while opts.count is None or seen < opts.count:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            break
        if stream is not None:
            wait = HEARTBEAT if wait is None else min(wait, HEARTBEAT)
        ready, _, _ = select.select([sock.ins, sys.stdin, wake_r], [], [], wait)
        if sock.ins in ready:
            take()
        elif stream is not None:
            record(b"H", time.time() - HEARTBEAT_MARGIN)
        if sys.stdin in ready or wake_r in ready:
            # asked to stop: keep what the kernel has already queued for us
            while (opts.count is None or seen < opts.count) and select.select([sock.ins], [], [], 0)[0]:
                take()
            break
    sock.close()
    if writer:
        writer.close()
    if stream is not None:
        os.close(stream)


def _build(item, iface):
    """Turn what the parent sent (see sender.py `_pack`) into scapy packets, here in the namespace."""
    kind, value = item
    if kind == "layers":
        pkt = None
        for cls, fields in value:
            layer = cls(**fields)
            pkt = layer if pkt is None else pkt / layer
        return pkt
    if kind == "bytes":
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Ether
        if iface:
            return Ether(value)
        return IPv6(value) if value[:1] and value[0] >> 4 == 6 else IP(value)
    if kind == "expr":
        import scapy.all
        return eval(value, vars(scapy.all))   # a scapy expression the caller wrote
    raise ValueError(f"unknown packet kind {kind!r}")


def _request() -> None:
    req = pickle.load(sys.stdin.buffer)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr   # scapy's chatter must not corrupt the pickled result

    from scapy.config import conf
    from scapy.layers.l2 import Ether
    from scapy.sendrecv import send, sendp, sr, srp
    from scapy.supersocket import L3RawSocket

    import netlab.probe.decode  # noqa: F401  (VXLAN on 8472 for answers)

    # Layer 3 goes through the kernel (raw IP socket): its routes, neighbours and
    # netfilter, like an application in the pod, not scapy's copy of the tables.
    conf.L3socket = L3RawSocket
    conf.verb = 0
    iface = req.get("iface")
    pkts = []
    for item in req["packets"]:
        built = _build(item, iface)
        pkts.extend(built if isinstance(built, list) else [built])
    layer2 = any(isinstance(p, Ether) for p in pkts)
    if layer2 and not iface:
        _fail("an Ether frame needs an interface to be sent on")
    kw = {"iface": iface} if layer2 else {}

    result: int | list[tuple[Packet, Packet | None]]
    if req["op"] == "send":
        (sendp if layer2 else send)(pkts, inter=req.get("inter", 0), verbose=0, **kw)
        result = len(pkts)
    else:
        ans, unans = (srp if layer2 else sr)(pkts, timeout=req.get("timeout", 1.0),
                                             inter=req.get("inter", 0), verbose=0, **kw)
        pairs = [(q, a) for q, a in ans] + [(q, None) for q in unans]
        result = sorted(pairs, key=lambda qa: qa[0].sent_time or 0)   # back in sending order
    pickle.dump(result, out)
    out.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="netlab.probe.worker")
    sub = parser.add_subparsers(dest="cmd", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("iface")
    cap.add_argument("--count", type=int)
    cap.add_argument("--timeout", type=float)
    cap.add_argument("--filter")
    cap.add_argument("--write")
    cap.add_argument("--lines", action="store_true")
    cap.add_argument("--stream")
    sub.add_parser("request")
    opts = parser.parse_args(argv)

    import logging
    logging.getLogger("scapy").setLevel(logging.ERROR)
    try:
        if opts.cmd == "capture":
            _capture(opts)
        else:
            _request()
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(1)
    except OSError as e:
        _fail(e.strerror or str(e))
    except Exception as e:   # noqa: BLE001 - one line for the parent, not a traceback
        _fail(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
