"""Readiness by TCP probes: a pod that runs a command is ready (READY 1/1, in Endpoints)
once each of its TCP container ports accepts a connection. Used by the lab while pods
start, and by each node's kubelet (netlab.kubelet) while they run."""
from __future__ import annotations

import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from netlab.kernel import netns

PROBE_TIMEOUT = 10.0


def accepts(ip: str, port: int, timeout: float = 0.2) -> bool:
    """Does ip:port accept a TCP connection (from the calling thread's namespace)?"""
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((ip, port)) == 0


def refusal(ip: str, port: int, timeout: float = 0.2) -> str | None:
    """Why ip:port does not accept a TCP connection, in the words of the kubelet's TCP probe
    (Go's dialer): None if it does."""
    with socket.socket() as s:
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except socket.timeout:
            return f"dial tcp {ip}:{port}: i/o timeout"
        except OSError as e:
            return f"dial tcp {ip}:{port}: connect: {os.strerror(e.errno or 0).lower()}"
    return None


def _wait(ns: str, ports: list[int], deadline: float) -> bool:
    netns.setns(ns)
    left = list(ports)
    while left:
        left = [p for p in left if not accepts("127.0.0.1", p)]
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_ready(probes: dict[str, list[int]], timeout: float = PROBE_TIMEOUT, on_ready=None) -> set[str]:
    """probes: namespace -> TCP ports. Returns the namespaces whose ports all accept;
    on_ready([ns, ...]) is called as they get there (pods may need each other: data-product
    needs the DNS pod in its Service's Endpoints before it can find the database)."""
    if not probes:
        return set()
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    with ThreadPoolExecutor(min(32, len(probes))) as pool:
        pending = {pool.submit(_wait, ns, ports, deadline): ns for ns, ports in probes.items()}
        while pending:
            # all that got ready meanwhile, in one go: one rules update for them all
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            wave = [pending.pop(f) for f in done if f.result()]
            for f in done:
                pending.pop(f, None)
            ready.update(wave)
            if wave and on_ready:
                on_ready(wave)
    return ready
