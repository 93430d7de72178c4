#!/usr/bin/env python3
"""The lab's API server: kubectl against it next to netlab's own CLI, watch delay, memory.

    python bench/api.py [--runs 5] [--events 10]

Brings a seed lab up (with its API server, as `netlab up` does) and prints, from one run:
- `kubectl get pods -A` and `netlab get pods -A` as a user times them (the whole command),
  median (min-max) of --runs; and a bare list (the Python client's GET /api/v1/pods);
- the watch's delay: from the record's change (state.json's mtime, the write that scaled the
  deployment) to the event read from a watch of Endpoints, median (max) of --events scales;
- writes: `kubectl apply` of the walk-through (unchanged, after the first) and `kubectl
  scale` next to `netlab apply` and `netlab scale`;
- the API server's resident memory (its process).
Run as root; it removes the lab it made.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import events as lab_events  # noqa: E402
from netlab.api import lifecycle  # noqa: E402
from netlab.state import LabRecord  # noqa: E402

NETLAB = [sys.executable, "-m", "netlab.cli"]


def timed(argv: list[str], env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - t)
    return out


def show(label: str, xs: list[float], unit: str = "ms", scale: float = 1000) -> None:
    print(f"  {label:<44} {statistics.median(xs) * scale:8.1f} {unit} ({min(xs) * scale:.1f}-{max(xs) * scale:.1f})")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--events", type=int, default=10)
    args = p.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("bench/api.py: kubectl is not installed")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))       # (the lab is removed all the same)
    name = f"bapi{os.getpid() % 10000}"
    # as a user brings it up (netlab up starts the API server too)
    subprocess.run([*NETLAB, "up", "--name", name], check=True, capture_output=True)
    lab = LabRecord(name)
    try:
        files = lifecycle.Files(lab.dir)
        home = tempfile.mkdtemp()
        env = {**os.environ, "KUBECONFIG": str(lifecycle.kubeconfig(name)), "HOME": home}
        subprocess.run([kubectl, "get", "pods", "-A"], env=env, check=True, capture_output=True)  # discovery cached
        print(f"lab {name}: seed, API server on 127.0.0.1:{files.port()}")
        show("kubectl get pods -A", timed([kubectl, "get", "pods", "-A"], env, args.runs))
        show("netlab get pods -A", timed([*NETLAB, "get", "pods", "-A", "--name", name], env, args.runs))
        show("kubectl get pods -A -o wide", timed([kubectl, "get", "pods", "-A", "-o", "wide"], env, args.runs))

        ctx = ssl.create_default_context(cafile=str(files.ca_crt))
        headers = {"Authorization": f"Bearer {files.token()}"}
        conn = http.client.HTTPSConnection("127.0.0.1", files.port(), context=ctx)
        lists = []
        for _ in range(args.runs * 4):
            t = time.perf_counter()
            conn.request("GET", "/api/v1/pods", headers=headers)
            conn.getresponse().read()
            lists.append(time.perf_counter() - t)
        show("GET /api/v1/pods (one connection)", lists)

        watch = http.client.HTTPSConnection("127.0.0.1", files.port(), context=ctx, timeout=20)
        watch.request("GET", "/api/v1/namespaces/default/endpoints?watch=true&fieldSelector=metadata.name%3D"
                             "data-product", headers=headers)
        stream = watch.getresponse()
        assert json.loads(stream.readline())["type"] == "ADDED"
        delays: list[float] = []
        log = lab_events.path(lab.dir)

        def read() -> None:
            """Each event's delay: its receipt, less the mtime of the write it comes from (when
            that write is still the last of the record and of the events' log, whose counters
            make a resourceVersion, so its mtime is known)."""
            while True:
                try:
                    event = json.loads(stream.readline())
                except (OSError, ValueError):
                    return
                got = time.time()
                written = max(os.stat(lab.dir.state_file).st_mtime_ns, os.stat(log).st_mtime_ns) / 1e9
                now_rv = json.loads(lab.dir.state_file.read_text())["revision"] + \
                    lab_events.last_seq(lab_events.fold(lab_events.read(lab.dir)))
                if now_rv == int(event["object"]["metadata"]["resourceVersion"]):
                    delays.append(got - written)
        threading.Thread(target=read, daemon=True).start()
        for i in range(args.events):
            replicas = "4" if i % 2 == 0 else "3"
            subprocess.run([*NETLAB, "scale", "deployment", "data-product", "--replicas", replicas, "--name", name],
                           check=True, capture_output=True)
            time.sleep(0.5)
        watch.close()
        show(f"watch: record changed -> event read ({len(delays)} events)", delays)

        walkthrough = os.path.join(os.path.dirname(__file__), "..", "examples", "walkthrough")
        show("kubectl apply -f examples/walkthrough (unchanged)",
             timed([kubectl, "apply", "-f", walkthrough], env, args.runs))
        show("netlab apply -f examples/walkthrough (unchanged)",
             timed([*NETLAB, "apply", "-f", walkthrough, "--name", name], env, args.runs))
        # scaling up, each tool in turn (scaling down waits for a pod's graceful end, the same for both)
        up = {"kubectl": [kubectl, "scale", "deployment", "data-product", "--replicas", "4"],
              "netlab": [*NETLAB, "scale", "deployment", "data-product", "--replicas", "4", "--name", name]}
        scaled: dict[str, list[float]] = {tool: [] for tool in up}
        for _ in range(args.runs):
            for tool, argv in up.items():
                scaled[tool] += timed(argv, env, 1)
                timed([*NETLAB, "scale", "deployment", "data-product", "--replicas", "3", "--name", name], env, 1)
        for tool, xs in scaled.items():
            show(f"{tool} scale deployment data-product 3 -> 4", xs)

        proc = next(p for p in LabRecord(name).procs() if p.name == lifecycle.PROC)
        print(f"  {'API server RSS':<44} {rss_kib(proc.pid) / 1024:8.1f} MiB")
        shutil.rmtree(home, ignore_errors=True)
    finally:
        subprocess.run([*NETLAB, "down", "--name", name], check=True, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
