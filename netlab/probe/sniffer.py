"""Capturing packets on any interface of any named namespace.

    with capture("seed-node1", "eth0", count=4, timeout=5, bpf="udp port 8472") as cap:
        ping("seed-node1-pod", "172.30.2.2")     # traffic starts only once cap listens
    for pkt in cap.packets(): ...

Entering the block returns once the worker's socket is open, so nothing sent inside
the block is missed. Leaving it waits for the capture to end by itself when a count
or timeout was given (give a timeout with a count to bound the wait), else stops it.
"""
from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import cast

from scapy.packet import Packet
from scapy.utils import rdpcap

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
