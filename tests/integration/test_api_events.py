"""Events of what the lab does, through its API, read by the real kubectl and the Python
client: the seed's pods scheduled and started, a scale's controllers and endpoints, kubectl
describe pod's Events, a readiness probe failing, a watch seeing a new event."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import eventually, netlab, sh, unique  # noqa: E402

from netlab import events as lab_events  # noqa: E402
from netlab import layout  # noqa: E402
from netlab.api import lifecycle  # noqa: E402
from netlab.kernel import process  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402
from netlab.state import LabDir  # noqa: E402

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A seed lab with its API server, as `netlab up` starts it; kubectl's environment."""
    name = unique("ev-")
    lab = Lab.up(seed_cluster(name, time.time()))
    try:
        lifecycle.start(name)
        config = netlab("kubeconfig", "--name", name).stdout.strip()
        env = {**os.environ, "KUBECONFIG": config, "HOME": str(tmp_path_factory.mktemp("home"))}
        yield lab, env
    finally:
        if LabDir(name).exists():
            lab.down()


def kubectl(env, *args, timeout=30) -> str:
    r = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"kubectl {' '.join(args)} exited {r.returncode}: {r.stderr}"
    return r.stdout


def listed(env, *selector: str) -> list[dict]:
    """The events kubectl lists in every namespace (with a field selector)."""
    args = ["--field-selector", ",".join(selector)] if selector else []
    return json.loads(kubectl(env, "get", "events", "-A", "-o", "json", *args))["items"]


def said(items: list[dict]) -> set[tuple[str, str, str]]:
    return {(e["reason"], e["involvedObject"]["name"], e["message"]) for e in items}


def data_product(lab):
    return [p for p in lab.cluster().pods if p.owner == "data-product"]


def test_get_events_lists_the_seed_pods_scheduled_and_started(api):
    lab, env = api
    lines = kubectl(env, "get", "events", "-A").splitlines()
    assert lines[0].split() == ["NAMESPACE", "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    shown = {(r[0], r[3], r[4]) for r in (line.split(None, 5) for line in lines[1:])}
    scheduled = said(listed(env, "reason=Scheduled"))
    for p in lab.cluster().pods:
        assert (p.namespace, "Scheduled", f"pod/{p.name}") in shown
        assert ("Scheduled", p.name, f"Successfully assigned {p.namespace}/{p.name} to {p.node}") in scheduled
        if p.command:
            assert (p.namespace, "Started", f"pod/{p.name}") in shown
    # netlab get events -A: the same rows (LAST SEEN may have moved on a second)
    ours = netlab("get", "events", "-A", "--name", lab.name).stdout.splitlines()
    assert ours[0].split() == lines[0].split()
    assert [line.split(None, 2)[2] for line in ours[1:]] == [line.split(None, 2)[2] for line in lines[1:]]


def test_describe_pod_shows_its_events(api):
    lab, env = api
    p = data_product(lab)[0]
    text = kubectl(env, "describe", "pod", p.name)
    section = text.split("\nEvents:\n", 1)[1].splitlines()
    assert section[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    rows = [line.split(None, 4) for line in section[2:] if line.strip()]
    shown = [[r[0], r[1], r[3], r[4]] for r in rows]            # (without Age)
    assert ["Normal", "Scheduled", "default-scheduler", f"Successfully assigned default/{p.name} to {p.node}"] in shown
    assert ["Normal", "Started", "kubelet", "Started container data-product"] in shown
    assert all(p.name in r[4] or r[1] != "Scheduled" for r in rows)         # only this pod's
    # netlab describe pod prints the same section
    ours = netlab("describe", "pod", p.name, "--name", lab.name).stdout.split("\nEvents:\n", 1)[1].splitlines()
    assert [[r[0], r[1], r[3], r[4]] for r in (line.split(None, 4) for line in ours[2:] if line.strip())] == shown


def test_a_scale_is_told_by_the_controllers_the_kubelet_and_the_endpoints(api):
    lab, env = api
    before = {p.name for p in data_product(lab)}
    netlab("scale", "deployment", "data-product", "--replicas", "5", "--name", lab.name)
    try:
        new = [p for p in data_product(lab) if p.name not in before]
        assert len(new) == 2
        rs = new[0].name.rsplit("-", 1)[0]
        got = said(listed(env))
        assert ("ScalingReplicaSet", "data-product", f"Scaled up replica set {rs} to 5 from 3") in got
        for p in new:
            assert ("SuccessfulCreate", rs, f"Created pod: {p.name}") in got
            assert ("Scheduled", p.name, f"Successfully assigned default/{p.name} to {p.node}") in got
            assert ("Started", p.name, "Started container data-product") in got
        changed = listed(env, "involvedObject.kind=Service,involvedObject.name=data-product,reason=EndpointsChanged")
        assert any(e["message"].startswith("Ready endpoints changed: 5 addresses (was 3): ") for e in changed), changed
        assert all(e["source"]["component"] == "endpoint-controller" for e in changed)
    finally:
        netlab("scale", "deployment", "data-product", "--replicas", "3", "--name", lab.name)
    gone = [p for p in new if p.name not in {q.name for q in data_product(lab)}]
    got = said(listed(env, "involvedObject.kind=Pod,reason=Killing"))
    assert {(p.name, "Stopping container data-product") for p in gone} <= {(n, m) for _, n, m in got} and gone


def test_a_failing_readiness_probe_is_a_warning(api):
    """The pod's port refused inside the pod's own namespace: the kubelet's probe fails."""
    lab, env = api
    p = data_product(lab)[0]
    ns = layout.pod_ns(lab.name, p)
    port = sorted(set(p.container_ports.values()))[0]
    rule = ["INPUT", "-p", "tcp", "--dport", str(port), "-j", "REJECT", "--reject-with", "tcp-reset"]
    sh(ns, "iptables-legacy", "-I", *rule)
    try:
        selector = ("type=Warning", "reason=Unhealthy", f"involvedObject.name={p.name}")
        found = eventually(lambda: listed(env, *selector), timeout=10, step=0.2)
        assert found, "no Unhealthy event"
        assert found[0]["message"] == f"Readiness probe failed: dial tcp {p.ip}:{port}: connect: connection refused"
        assert found[0]["source"] == {"component": "kubelet", "host": p.node}
        # repeated failures are one event, counted
        assert eventually(lambda: listed(env, *selector)[0]["count"] >= 2, timeout=10, step=0.2)
        described = kubectl(env, "describe", "pod", p.name).split("\nEvents:\n", 1)[1]
        assert "Warning  Unhealthy" in described and "Readiness probe failed: dial tcp" in described
    finally:
        sh(ns, "iptables-legacy", "-D", *rule)
    assert eventually(lambda: next(q for q in data_product(lab) if q.name == p.name).ready, timeout=10, step=0.1)


def test_a_watch_sees_a_new_event(api):
    """A pod's process killed: the kubelet's BackOff reaches a watch begun before; the delay
    from the event's line to the watch's is printed."""
    kubernetes = pytest.importorskip("kubernetes")
    lab, env = api
    kubernetes.config.load_kube_config(env["KUBECONFIG"])
    v1 = kubernetes.client.CoreV1Api()
    p = data_product(lab)[1]
    rv = v1.list_namespaced_event("default").metadata.resource_version
    seen: list[tuple[float, object]] = []
    w = kubernetes.watch.Watch()

    def follow():
        for ev in w.stream(v1.list_namespaced_event, "default", resource_version=rv, timeout_seconds=20,
                           field_selector=f"involvedObject.name={p.name}"):
            seen.append((time.time(), ev["object"]))
            if ev["object"].reason == "BackOff":
                w.stop()
    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    rec = lab.state()["procs"][layout.pod_proc(p.namespace, p.name)]
    os.kill(process.pod_init(process.Proc(**rec)), 9)
    reader.join(20)
    backoff = [(t, e) for t, e in seen if e.reason == "BackOff"]
    assert backoff, [e.reason for _, e in seen]
    t, e = backoff[0]
    assert e.type == "Warning" and e.message.startswith(f"Back-off restarting failed container data-product in pod "
                                                        f"{p.name}_default(")
    [line] = [r for r in lab_events.read(lab.dir) if r["name"] == e.metadata.name and r["count"] == e.count]
    print(f"\nwatch: event recorded -> client {1000 * (t - line['last']):.1f} ms")
    # and the kubelet starts it again: the same Started event, counted twice
    assert eventually(lambda: any(ev["reason"] == "Started" and ev["count"] >= 2
                                  for ev in listed(env, f"involvedObject.name={p.name}")), timeout=10, step=0.2)
