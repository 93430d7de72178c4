"""What the kubelet does for netlab's pods: readiness, by TCP probes on their ports.

A pod that runs a command is ready (READY 1/1, in Endpoints) once each of its TCP
container ports accepts a connection inside the pod's namespace.
"""
from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

from netlab.kernel import netns

PROBE_TIMEOUT = 10.0


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(ns: str, ports: list[int], deadline: float) -> bool:
    netns.setns(ns)
    left = list(ports)
    while left:
        left = [p for p in left if not _accepts(p)]
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_ready(probes: dict[str, list[int]], timeout: float = PROBE_TIMEOUT) -> set[str]:
    """probes: namespace -> TCP ports. Returns the namespaces whose ports all accept."""
    if not probes:
        return set()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(min(16, len(probes))) as pool:
        results = {ns: pool.submit(_wait, ns, ports, deadline) for ns, ports in probes.items()}
        return {ns for ns, f in results.items() if f.result()}
