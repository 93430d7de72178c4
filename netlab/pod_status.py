"""A pod of several containers: the status file its runtime keeps in the pod's directory.

The lab records one process per pod (its runtime, e.g. netlab-kube-dns-pod); the runtime
starts the containers, restarts one that dies, and writes what each is doing here,
atomically, in a directory of the pod's own (it runs as the pod's user). `get pods` (READY
n/m, RESTARTS) and `describe pod` read it. A file left by a runtime that is no longer the
pod's process tells nothing: each container is then shown as not running.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "containers.json"


def directory(pod_dir: Path | str) -> Path:
    return Path(pod_dir) / "status"


def path(pod_dir: Path | str) -> Path:
    return directory(pod_dir) / FILE


def write(pod_dir: Path | str, runtime_pid: int, runtime_start: int, containers: list[dict]) -> None:
    """containers: [{name, ready, restarts, state, reason, pid, started, command, ports}, ...];
    the runtime's pid as it sees it (1: the pod's PID 1) and its start time (the host's clock)."""
    target = path(pod_dir)
    target.parent.mkdir(exist_ok=True)
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": runtime_pid, "start": runtime_start, "containers": containers}))
    os.replace(tmp, target)


def read(pod_dir: Path | str, runtime: dict | None) -> dict | None:
    """The file's content if the pod's recorded process (`runtime`: its shim's pid and start
    time, from the lab's state) is running and the runtime under it wrote it; else None."""
    try:
        doc = json.loads(path(pod_dir).read_text())
    except (OSError, ValueError):
        return None
    if not runtime or _start_time(runtime["pid"]) != runtime.get("start"):
        return None                  # the runtime is gone (the kubelet has not restarted it yet)
    if not isinstance(doc.get("start"), int) or doc["start"] < runtime["start"]:
        return None                  # an earlier run's (the runtime starts after its shim)
    return doc


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def statuses(names: list[str], doc: dict | None) -> list[dict]:
    """One status per container name (pure): the runtime's, or not running."""
    have = {c["name"]: c for c in (doc or {}).get("containers", [])}
    return [have.get(n) or {"name": n, "ready": False, "restarts": 0, "state": "waiting",
                            "reason": "ContainerCreating", "command": [], "ports": []} for n in names]


def ready_text(containers: list[dict]) -> str:
    """READY as kubectl shows it: ready containers / containers."""
    return f"{sum(bool(c.get('ready')) for c in containers)}/{len(containers)}"


def restarts(containers: list[dict]) -> int:
    return sum(int(c.get("restarts", 0)) for c in containers)
