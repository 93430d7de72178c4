"""Pods end as the kubelet ends them: out of the Endpoints, SIGTERM, then SIGKILL after the
pod's grace period; scaling under load fails no request."""
import re
import signal
import subprocess
import time

from netlab import layout
from netlab.model.seed import seed_cluster

from helpers import apply, netlab, proc_state

PATH = "/api/v1/product/list"


def _wrk(ns: str, url: str, *headers: str) -> subprocess.Popen:
    """wrk until interrupted: 20 keep-alive connections, a request unanswered for 2 s failed."""
    cmd = ["ip", "netns", "exec", ns, "wrk", "-t", "2", "-c", "20", "-d", "300s", "--timeout", "2s"]
    for h in headers:
        cmd += ["-H", h]
    return subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, text=True)


def _report(w: subprocess.Popen) -> dict:
    """wrk's figures once interrupted: requests, socket errors by kind, non-2xx answers."""
    w.send_signal(signal.SIGINT)
    out = w.communicate(timeout=30)[0]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            **dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups() if errors else (0,) * 4))),
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def test_scaling_both_deployments_under_load_fails_no_request(make_lab):
    """3 -> 1 -> 5 -> 3 each, as a user types the commands, while wrk keeps connections alive
    through the ingress from outside, and straight to each Service from a node (a client
    whose kept-alive connection leads to a pod that goes)."""
    lab = make_lab(seed_cluster)
    c = lab.cluster()
    ip = {s.name: s.cluster_ip for s in c.services}
    loads = {"ingress": _wrk(layout.host_ns(c.name, "client"), f"http://{c.nodes[0].ip}:30799{PATH}",
                             "Host: business-manager.default"),
             "business-manager": _wrk(layout.node_ns(c.name, "node1"), f"http://{ip['business-manager']}{PATH}"),
             "data-product": _wrk(layout.node_ns(c.name, "node2"), f"http://{ip['data-product']}:50051{PATH}")}
    took = []
    try:
        time.sleep(1)
        for dep in ("business-manager", "data-product"):
            for n in (1, 5, 3):
                t = time.monotonic()
                netlab("scale", "deployment", dep, "--replicas", str(n), "--name", lab.name)
                took.append(f"{dep} -> {n}: {time.monotonic() - t:.2f} s")
        time.sleep(1)
    finally:
        reports = {name: _report(w) for name, w in loads.items()}
    print("\n".join(took), reports)
    # a pod that closed its port (the database slow to answer) would fail requests too: say so
    closed = [line for f in lab.dir.logs.glob("pod_default_data-product-*") for line in f.read_text().splitlines()
              if line.startswith("not ready")]
    for name, r in reports.items():
        assert r["requests"] > 1000 and r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non2xx"] == 0, \
            (name, r, closed)


def test_a_pod_is_given_its_grace_period_then_killed(make_lab, tmp_path):
    """One pod ends in 2 s after SIGTERM, within its grace period of 3 s; one ignores SIGTERM
    and is killed at the end of its 1 s."""
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, """
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 1
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: c
        command: [sh, -c, 'trap "echo stopping; sleep 2; echo stopped; exit 0" TERM; while :; do sleep 0.1; done']
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: deaf}
spec:
  replicas: 1
  selector: {matchLabels: {app: deaf}}
  template:
    metadata: {labels: {app: deaf}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        command: [sh, -c, 'trap "" TERM; sleep 1000']
""")
    pods = {p.owner: p for p in lab.cluster().pods if p.owner in ("slow", "deaf")}
    pids = {owner: lab.state()["procs"][layout.pod_proc(p.namespace, p.name)]["pid"] for owner, p in pods.items()}
    took = {}
    for owner in ("slow", "deaf"):
        t = time.monotonic()
        netlab("scale", "deployment", owner, "--replicas", "0", "--name", lab.name)
        took[owner] = time.monotonic() - t
    log = (lab.dir.logs / layout.log_file(layout.pod_proc("default", pods["slow"].name))).read_text()
    assert [w for w in log.split() if w.startswith("stop")] == ["stopping", "stopped"], log   # not SIGKILLed
    assert 2 <= took["slow"] < 3 + 2, took
    assert 1 <= took["deaf"] < 1 + 2, took                      # SIGKILLed after its 1 s, not 30
    assert {proc_state(pid) for pid in pids.values()} <= {None, "Z"}     # (ours to reap: the test forked them)
