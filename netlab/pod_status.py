"""A pod of several containers: the status file its runtime keeps in the pod's directory.

The lab records one process per pod (its runtime, e.g. netlab-kube-dns-pod); the runtime
starts the containers, restarts one that dies, and writes what each is doing here,
atomically. `get pods` (READY n/m, RESTARTS) and `describe pod` read it. A file left by a
runtime that is no longer the pod's process tells nothing: each container is then shown
as not running.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "containers.json"


def path(pod_dir: Path | str) -> Path:
    return Path(pod_dir) / FILE


def write(pod_dir: Path | str, runtime_pid: int, runtime_start: int, containers: list[dict]) -> None:
    """containers: [{name, ready, restarts, state, reason, pid, started, command, ports}, ...]."""
    target = path(pod_dir)
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": runtime_pid, "start": runtime_start, "containers": containers}))
    os.replace(tmp, target)


def read(pod_dir: Path | str, runtime: dict | None) -> dict | None:
    """The file's content if the pod's recorded process (`runtime`: its pid and start
    time, from the lab's state) wrote it; else None."""
    try:
        doc = json.loads(path(pod_dir).read_text())
    except (OSError, ValueError):
        return None
    if not runtime or (doc.get("pid"), doc.get("start")) != (runtime.get("pid"), runtime.get("start")):
        return None
    if _start_time(doc["pid"]) != doc["start"]:
        return None                  # the runtime is gone (the kubelet has not restarted it yet)
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
