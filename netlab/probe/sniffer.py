"""Capturing packets on any interface of any named namespace.

    with capture("seed-node1", "eth0", count=4, timeout=5, bpf="udp port 8472") as cap:
        ping("seed-node1-pod", "172.30.2.2")     # traffic starts only once cap listens
    for pkt in cap.packets(): ...

Entering the block returns once the worker's socket is open, so nothing sent inside
the block is missed. Leaving it waits for the capture to end by itself when a count
or timeout was given (give a timeout with a count to bound the wait), else stops it.

capture_many (MultiCapture) does the same on several interfaces at once, one worker
each, started in parallel; their packets come back merged by time.
"""
from __future__ import annotations

import heapq
import math
import os
import select
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import NamedTuple, cast

from scapy.config import conf
from scapy.packet import Packet
from scapy.utils import PcapNgWriter, PcapWriter, rdpcap

from netlab.probe import decode  # noqa: F401  (loads the layers rdpcap dissects packets into: DNS, VXLAN, ...)
from netlab.probe import runner
from netlab.probe.runner import ProbeError


class Capture:
    """One capture worker on `ns`:`iface`; see the module docstring for its life."""

    _proc: runner.WorkerProcess | None = None

    def __init__(self, ns: str, iface: str, count: int | None = None, timeout: float | None = None,
                 bpf: str | None = None, write: str | None = None, lines: bool = False):
        if count is not None and count < 1:
            raise ProbeError(f"count must be at least 1, not {count}")
        if timeout is not None and timeout < 0:
            raise ProbeError(f"timeout must not be negative, not {timeout}")
        self.ns, self.iface, self.count, self.timeout, self.bpf = ns, iface, count, timeout, bpf
        self.lines_wanted = lines
        self._own_file = write is None   # a temporary pcap, removed once read
        self.pcap = os.path.abspath(write) if write else None
        self._proc = None
        self._packets: list[Packet] | None = None
        self.ready_after: float | None = None   # seconds from start() to listening

    def start(self) -> Capture:
        """Start the worker and return once it is really listening."""
        if self._own_file:
            fd, self.pcap = tempfile.mkstemp(prefix="netlab-capture-", suffix=".pcap")
            os.close(fd)
        args = ["capture", self.iface, "--write", cast(str, self.pcap)]   # set above or in __init__
        if self.count is not None:
            args += ["--count", str(self.count)]
        if self.timeout is not None:
            args += ["--timeout", str(self.timeout)]
        if self.bpf:
            args += ["--filter", self.bpf]
        if self.lines_wanted:
            args.append("--lines")
        began = time.monotonic()
        try:
            self._proc = runner.start(self.ns, args)
            if not select.select([self._proc.stdout], [], [], runner.READY_TIMEOUT)[0]:
                raise ProbeError(f"{self.where}: capture did not start within {runner.READY_TIMEOUT:g} s")
            if self._proc.stdout.readline().decode().strip() != runner.READY:
                self._proc.wait()
                raise ProbeError(f"{self.where}: {runner.error_of(self._proc)}")
        except BaseException:
            self.kill()
            self.close()
            raise
        self.ready_after = time.monotonic() - began
        return self

    @property
    def where(self) -> str:
        return f"{self.ns}:{self.iface}"

    @property
    def _worker(self) -> runner.WorkerProcess:
        """The worker, for methods only called once the capture has been started."""
        return cast("runner.WorkerProcess", self._proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def lines(self) -> Iterator[str]:
        """Summary lines as the worker reports packets (needs lines=True); ends with the capture."""
        for raw in self._worker.stdout:
            yield raw.decode(errors="replace").rstrip("\n")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the capture to end by itself; False if still running after `timeout`."""
        try:
            self._worker.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def request_stop(self) -> None:
        """Ask the worker to end (EOF on its stdin): it keeps what it already received,
        completes the pcap and exits. Returns at once; see `stop`."""
        if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()

    def stop(self, grace: float = 5.0) -> None:
        """End the capture, keeping every packet already received (the pcap stays complete)."""
        if self._proc is None:
            return
        self.request_stop()
        if not self.wait(grace):
            self.kill()

    def status(self) -> int:
        """0 if the capture ended normally; raises ProbeError with the worker's error otherwise."""
        rc = self._worker.wait()
        if rc != 0:
            raise ProbeError(f"{self.where}: {runner.error_of(self._worker)}")
        return rc

    def packets(self) -> list[Packet]:
        """The captured packets (stops the capture if it is still running)."""
        if self._packets is None:
            self.stop()
            try:
                self.status()
                self._packets = list(rdpcap(cast(str, self.pcap)))
            finally:
                self.close()
            for pkt in self._packets:
                pkt.sniffed_on = self.iface
        return self._packets

    def kill(self) -> None:
        """End the worker at once (the pcap may lack the packet being written)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _discard(self) -> None:
        if self._own_file and self.pcap:
            try:
                os.unlink(self.pcap)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """Stop the worker, release its pipes and remove a temporary pcap
        (packets already read stay available)."""
        if self._proc is not None:
            self.request_stop()
            self._proc.stdout.close()   # a worker blocked on printing a line gets EPIPE and ends
            self.stop()
            self._proc.errors.close()
        self._discard()

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.kill()
            self.close()
            return
        if self.count is not None or self.timeout is not None:
            self.wait()
        else:
            self.stop()

    def __del__(self) -> None:
        # a capture dropped unread: no worker and no temporary pcap left behind
        try:
            self.kill()
            self._discard()
        except Exception:   # noqa: BLE001 - at interpreter exit anything may be half gone
            pass


def capture(ns: str, iface: str, count: int | None = None, timeout: float | None = None,
            bpf: str | None = None, write: str | None = None) -> Capture:
    """A capture on `iface` inside namespace `ns`, to use as a context manager.

    count: stop after that many packets; timeout: stop after that many seconds;
    bpf: a tcpdump filter; write: also keep the pcap at this path.
    """
    return Capture(ns, iface, count=count, timeout=timeout, bpf=bpf, write=write)


def sniff(ns: str, iface: str, count: int | None = None, timeout: float | None = None,
          bpf: str | None = None, write: str | None = None) -> list[Packet]:
    """Capture until `count` packets or `timeout` seconds and return them (blocking)."""
    if count is None and timeout is None:
        raise ProbeError("sniff needs a count or a timeout")
    with capture(ns, iface, count=count, timeout=timeout, bpf=bpf, write=write) as cap:
        pass
    return cap.packets()


# ---------------------------------------------------------------- several interfaces at once

class Captured(NamedTuple):
    """One packet of a capture_many: where it was seen (its label), its time, the packet."""
    where: str
    time: float
    packet: Packet


class Merge:
    """Orders the items of several sources by time, each source's items arriving in order.

    An item is released once no source can still bring an earlier one: each source's
    mark is the latest time it has vouched for (its last item, or a heartbeat: "nothing
    before this is still to come"); a source that has ended no longer holds anything back.
    Ties go by source, then arrival.
    """

    def __init__(self, sources: int):
        self._marks = [-math.inf] * sources
        self._heap: list[tuple[float, int, int, object]] = []
        self._arrived = 0

    def add(self, source: int, when: float, item: object) -> None:
        heapq.heappush(self._heap, (when, source, self._arrived, item))
        self._arrived += 1
        self.advance(source, when)

    def advance(self, source: int, when: float) -> None:
        self._marks[source] = max(self._marks[source], when)

    def end(self, source: int) -> None:
        self._marks[source] = math.inf

    def ready(self) -> Iterator[tuple[float, int, object]]:
        """The items no source can precede any more, oldest first."""
        while self._heap and self._heap[0][0] <= min(self._marks):
            when, source, _, item = heapq.heappop(self._heap)
            yield when, source, item

    def rest(self) -> Iterator[tuple[float, int, object]]:
        """Every item still held, oldest first (once no source will bring more)."""
        while self._heap:
            when, source, _, item = heapq.heappop(self._heap)
            yield when, source, item

    def __len__(self) -> int:
        return len(self._heap)


class _Source:
    """One worker of a MultiCapture and the file it streams its packets into."""

    def __init__(self, label: str, ns: str, iface: str):
        self.label, self.ns, self.iface = label, ns, iface
        self.proc: runner.WorkerProcess | None = None
        fd, self.path = tempfile.mkstemp(prefix="netlab-capture-", suffix=".stream")
        self.file = os.fdopen(fd, "rb")
        self.buffer = b""
        self.linktype: int | None = None
        self.ended = False
        self.error: str | None = None


class MultiCapture:
    """Capture workers on several (namespace, interface) pairs, their packets merged by time.

    Entering the block (or start()) returns once every worker listens; the workers start
    in parallel. Iterating yields Captured(where, time, packet) as they become certain of
    their place in time (within about a tenth of a second of their arrival); it ends
    after `count` packets in all, `timeout` seconds, request_stop() or when every worker
    has ended. Leaving the block ends the capture (waiting for the count or timeout if
    one was given, else stopping it) and reaps every worker; packets() then returns them.
    """

    POLL = 0.02   # seconds between reads of the workers' files

    def __init__(self, ifaces: Sequence[tuple[str, str]], bpf: str | None = None, count: int | None = None,
                 timeout: float | None = None, write: str | None = None, labels: Sequence[str] | None = None,
                 keep: bool = True):
        if not ifaces:
            raise ProbeError("no interface to capture on")
        if count is not None and count < 1:
            raise ProbeError(f"count must be at least 1, not {count}")
        if timeout is not None and timeout < 0:
            raise ProbeError(f"timeout must not be negative, not {timeout}")
        labels = list(labels) if labels is not None else [f"{ns}:{iface}" for ns, iface in ifaces]
        if len(labels) != len(ifaces):
            raise ProbeError("one label per interface")
        pairs = [tuple(x) for x in ifaces]
        for i, pair in enumerate(pairs):
            if pair in pairs[:i]:
                raise ProbeError(f"{labels[i]}: the same interface twice")
        self.bpf, self.count, self.timeout, self.keep = bpf, count, timeout, keep
        self.write = os.path.abspath(write) if write else None
        self._specs = [(label, ns, iface) for label, (ns, iface) in zip(labels, ifaces)]
        self._sources: list[_Source] = []
        self._merge = Merge(len(ifaces))
        self._writer: PcapWriter | PcapNgWriter | None = None
        self._emitted: list[Captured] = []
        self._stream: Iterator[Captured] | None = None
        self.counts: dict[str, int] = {label: 0 for label in labels}
        self.stop_requested = False   # may be set from a signal handler: the stream then ends soon
        self.ready_after: float | None = None

    @property
    def labels(self) -> list[str]:
        return [label for label, _, _ in self._specs]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    # ---- starting

    def start(self) -> MultiCapture:
        """Start every worker at once; return when all listen (else end them all and raise)."""
        began = time.monotonic()
        try:
            if self.write:
                try:
                    open(self.write, "wb").close()   # fails before any worker starts
                except OSError as e:
                    raise ProbeError(f"cannot write {self.write!r}: {e.strerror}") from None
            args = ["capture"]
            if self.count is not None:
                args += ["--count", str(self.count)]   # no worker needs more than all of them
            if self.bpf:
                args += ["--filter", self.bpf]
            for label, ns, iface in self._specs:
                src = _Source(label, ns, iface)
                self._sources.append(src)
                try:
                    src.proc = runner.start(ns, [*args, iface, "--stream", src.path])
                except ProbeError as e:
                    raise ProbeError(f"{label}: {e}") from None
            self._await_ready(began + runner.READY_TIMEOUT)
            self._open_writer()
        except BaseException:
            self.kill()
            self.close()
            raise
        self.ready_after = time.monotonic() - began
        self._stream = self._run()
        return self

    def _await_ready(self, deadline: float) -> None:
        """Read every worker's "ready" line, all in parallel; the first failure raises."""
        waiting = {cast("runner.WorkerProcess", s.proc).stdout.fileno(): s for s in self._sources}
        lines = {fd: b"" for fd in waiting}
        while waiting:
            left = deadline - time.monotonic()
            readable = select.select(list(waiting), [], [], max(left, 0))[0] if left > 0 else []
            if not readable:
                src = next(iter(waiting.values()))
                raise ProbeError(f"{src.label}: capture did not start within {runner.READY_TIMEOUT:g} s")
            for fd in readable:
                src = waiting[fd]
                byte = os.read(fd, 1)   # unbuffered: the line mode's reader must find the rest
                if byte and byte != b"\n":
                    lines[fd] += byte
                    continue
                proc = cast("runner.WorkerProcess", src.proc)
                if lines[fd].decode(errors="replace") != runner.READY:
                    proc.wait()
                    raise ProbeError(f"{src.label}: {runner.error_of(proc)}")
                del waiting[fd]
        for src in self._sources:
            self._read(src)   # the link type, written before "ready"
            if src.linktype is None:
                raise ProbeError(f"{src.label}: the worker did not say its link type")

    def _open_writer(self) -> None:
        """One interface: a classic pcap (what tcpdump -w writes). Several: pcapng, one
        interface block per capture named by its label, each with its own link type."""
        if not self.write:
            return
        first = cast(int, self._sources[0].linktype)
        writer: PcapWriter | PcapNgWriter
        if len(self._sources) == 1:
            writer = PcapWriter(self.write, linktype=first, sync=True)
        else:
            writer = PcapNgWriter(self.write)
            writer.linktype = first
            writer.sync = True
        writer.write_header(None)   # a valid file even if nothing arrives
        self._writer = writer

    # ---- reading the workers' files

    def _read(self, src: _Source) -> None:
        data = src.file.read()
        if not data:
            return
        buf = src.buffer + data
        head = struct.calcsize(runner.STREAM_HEAD)
        at = 0
        while len(buf) - at >= head:
            kind, when, size = struct.unpack_from(runner.STREAM_HEAD, buf, at)
            if len(buf) - at - head < size:
                break
            body = buf[at + head:at + head + size]
            at += head + size
            if kind == b"P":
                self._merge.add(self._sources.index(src), when, body)
            elif kind == b"H":
                self._merge.advance(self._sources.index(src), when)
            elif kind == b"L":
                src.linktype = struct.unpack("<I", body)[0]
        src.buffer = buf[at:]

    def _poll(self) -> None:
        """Take in what every worker wrote; a worker that has exited ends its source."""
        for i, src in enumerate(self._sources):
            if src.ended:
                continue
            proc = cast("runner.WorkerProcess", src.proc)
            exited = proc.poll() is not None
            self._read(src)   # after poll(): an exited worker's last records are in
            if exited:
                src.ended = True
                self._merge.end(i)
                if proc.returncode != 0:
                    src.error = f"{src.label}: {runner.error_of(proc)}"

    def _packet(self, when: float, source: int, raw: object) -> Captured:
        src = self._sources[source]
        cls = conf.l2types.num2layer.get(cast(int, src.linktype), conf.raw_layer)
        try:
            pkt = cls(cast(bytes, raw))
        except Exception:   # noqa: BLE001 - as scapy's own sockets: undissected rather than lost
            pkt = conf.raw_layer(cast(bytes, raw))
        pkt.time = when
        pkt.sniffed_on = src.label
        return Captured(src.label, when, pkt)

    # ---- the merged stream

    def _run(self) -> Iterator[Captured]:
        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        stopping = False
        while True:
            self._poll()
            finished = all(s.ended for s in self._sources)
            items = self._merge.rest() if finished else self._merge.ready()
            for when, source, raw in items:
                if stopping and self.count is not None and self.total >= self.count:
                    break   # enough: what the workers still had is dropped
                got = self._packet(when, source, raw)
                self.counts[got.where] += 1
                if self._writer:
                    self._writer.write(got.packet)
                if self.keep:
                    self._emitted.append(got)
                yield got
                if self.count is not None and self.total >= self.count:
                    stopping = True
                    self.request_stop()
            if finished:
                break
            failed = any(s.error for s in self._sources)
            late = deadline is not None and time.monotonic() >= deadline
            if not stopping and (self.stop_requested or failed or late):
                stopping = True
            if stopping:
                self.request_stop()
            time.sleep(self.POLL)
        self._finish()

    def _finish(self) -> None:
        if self._writer:
            self._writer.close()
            self._writer = None
        self.close()
        errors = [s.error for s in self._sources if s.error]
        if errors:
            raise ProbeError(errors[0])

    def __iter__(self) -> Iterator[Captured]:
        if self._stream is None:
            raise ProbeError("the capture has not been started")
        return self._stream

    def packets(self) -> list[Captured]:
        """Every packet (with keep=True), merged by time; ends the capture first (stopping it
        at once if it has neither count nor timeout)."""
        if self.count is None and self.timeout is None:
            self.request_stop()
        for _ in self:
            pass
        return list(self._emitted)

    # ---- ending

    def request_stop(self) -> None:
        """Ask every worker to end (EOF on its stdin); they keep what they already had.
        Returns at once; the stream ends once they have."""
        self.stop_requested = True
        for src in self._sources:
            if src.proc is not None and src.proc.stdin and not src.proc.stdin.closed:
                src.proc.stdin.close()

    def kill(self) -> None:
        """End every worker at once (the stream ends with what had been read)."""
        for src in self._sources:
            if src.proc is not None and src.proc.poll() is None:
                src.proc.kill()
        for src in self._sources:
            if src.proc is not None:
                src.proc.wait()

    def close(self, grace: float = 5.0) -> None:
        """Stop and reap every worker and remove their files (packets read stay available)."""
        self.request_stop()
        end = time.monotonic() + grace
        for src in self._sources:
            if src.proc is None:
                continue
            try:
                src.proc.wait(max(end - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                src.proc.kill()
                src.proc.wait()
            src.proc.stdout.close()
            src.proc.errors.close()
        for src in self._sources:
            src.file.close()
            try:
                os.unlink(src.path)
            except FileNotFoundError:
                pass
        if self._writer:
            self._writer.close()
            self._writer = None

    def __del__(self) -> None:
        # a capture dropped unfinished: no worker and no stream file left behind
        try:
            self.kill()
            self.close()
        except Exception:   # noqa: BLE001 - at interpreter exit anything may be half gone
            pass

    def __enter__(self) -> MultiCapture:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.kill()
            self.close()
            return
        if self.count is None and self.timeout is None:
            self.request_stop()
        for _ in self:   # to the end: every packet taken in, every worker reaped
            pass


def capture_many(ifaces: Sequence[tuple[str, str]], bpf: str | None = None, count: int | None = None,
                 timeout: float | None = None, write: str | None = None,
                 labels: Sequence[str] | None = None) -> MultiCapture:
    """A capture on several interfaces at once, as a context manager:

        with capture_many([("seed-node1", "eth0"), ("seed-node2", "eth0")], bpf="udp port 8472") as cap:
            ping(...)
        for where, when, pkt in cap.packets(): ...     # merged by time, where = "seed-node1:eth0"

    bpf applies in every worker; count: packets in all; timeout: seconds once all listen;
    write: a pcap (one interface) or pcapng (several: one interface block each, named by its
    label); labels: names for the interfaces (default NS:IFACE).
    """
    return MultiCapture(ifaces, bpf=bpf, count=count, timeout=timeout, write=write, labels=labels)
