"""Writes through the lab's API with the real kubectl: apply (client- and server-side), scale
with a watch open, delete, invalid objects; each checked where a user would see it: the
kernel's rules, the traffic, netlab's own view of the lab."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import connect, eventually, netlab, sh  # noqa: E402
from kube import KUBECTL, kubectl, needs_kubectl, seed_with_api  # noqa: E402

from netlab import layout  # noqa: E402

pytestmark = needs_kubectl
WALKTHROUGH = str(Path(__file__).parents[2] / "examples" / "walkthrough")
DATA_PRODUCT = "10.254.116.224:50051"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with seed_with_api(tmp_path_factory.mktemp("home"), "w") as running:
        yield running


def _node(lab, name="node1") -> str:
    return layout.node_ns(lab.name, name)


def _nat(lab, node="node1") -> list[str]:
    """A node's nat table as kube-proxy wrote it (iptables-save's dated comments left out)."""
    saved = sh(_node(lab, node), "iptables-legacy-save", "-t", "nat").stdout
    return [re.sub(r" \[\d+:\d+\]$", "", line) for line in saved.splitlines() if not line.startswith("#")]


def test_apply_the_walkthrough_twice_then_unchanged_and_its_ingress_answers(api):
    lab, env = api
    first = kubectl(env, "apply", "-f", WALKTHROUGH).stdout.splitlines()
    assert first == ["namespace/ns-jo created", "deployment.apps/business-user created",
                     "service/business-user created", "ingress.extensions/business-user created"]
    second = kubectl(env, "apply", "-f", WALKTHROUGH).stdout.splitlines()
    assert second == [line.replace("created", "unchanged") for line in first]
    pods = netlab("get", "pods", "-n", "ns-jo", "--name", lab.name).stdout
    assert pods.count("business-user-") == 2
    answer = sh(layout.host_ns(lab.name, "client"), "curl", "-s", "-m", "5", "-H", "Host: business-user.ns-jo",
                "http://192.168.0.21:30799/").stdout
    assert answer.startswith("business-user-")
    # netlab apply of the same files agrees: the API's documents are the model's
    again = netlab("apply", "-f", WALKTHROUGH, "--name", lab.name).stdout
    assert "deployment/business-user unchanged" in again and "service/business-user unchanged" in again


def test_server_side_apply_changes_the_replicas(api, tmp_path):
    lab, env = api
    kubectl(env, "apply", "-f", WALKTHROUGH)
    changed = Path(WALKTHROUGH, "business-user.yaml").read_text().replace("replicas: 2", "replicas: 3")
    out = kubectl(env, "apply", "--server-side", "-f", "-", stdin=changed).stdout.splitlines()
    assert "deployment.apps/business-user serverside-applied" in out
    assert sum(p.owner == "business-user" for p in lab.cluster().pods) == 3
    kubectl(env, "apply", "-f", WALKTHROUGH)
    assert sum(p.owner == "business-user" for p in lab.cluster().pods) == 2


def test_endpoints_watch_sees_kubectl_scale_and_the_new_endpoints_carry_traffic(api):
    lab, env = api
    assert KUBECTL is not None
    w = subprocess.Popen([KUBECTL, "get", "endpoints", "data-product", "-w"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    lines: list[tuple[float, str]] = []

    def read():
        assert w.stdout is not None
        for line in w.stdout:
            lines.append((time.time(), line.rstrip("\n")))
    threading.Thread(target=read, daemon=True).start()
    try:
        eventually(lambda: len(lines) >= 2, timeout=10)
        assert lines[0][1].split()[:2] == ["NAME", "ENDPOINTS"], lines
        assert kubectl(env, "scale", "deployment", "data-product", "--replicas", "5").stdout.strip() == \
            "deployment.apps/data-product scaled"
        eventually(lambda: any("+ 2 more..." in text for _, text in lines), timeout=10)
        new = {p.name for p in lab.cluster().pods if p.owner == "data-product"
               and p.ip not in ("172.30.76.3", "172.30.76.5", "172.30.9.2")}
        assert len(new) == 2
        eventually(lambda: all(p.ready for p in lab.cluster().pods if p.owner == "data-product"), timeout=20)
        answered = connect(_node(lab), DATA_PRODUCT, "--count", "80")["by"]     # the pods that answered
        assert new <= set(answered), answered
    finally:
        w.terminate()
        w.wait(5)
        kubectl(env, "scale", "deployment", "data-product", "--replicas", "3")
    assert sum(p.owner == "data-product" for p in lab.cluster().pods) == 3


def test_an_invalid_object_is_refused_naming_the_field_and_nothing_changes(api):
    lab, env = api
    before = _nat(lab)
    assert any("KUBE-SVC-" in line for line in before)
    bad = ("apiVersion: v1\nkind: Service\nmetadata: {name: broken}\n"
           "spec:\n  selector: {app: x}\n  ports: [{port: 70000, targetPort: 80}]\n")
    for how in ((), ("--server-side",)):
        r = kubectl(env, "apply", *how, "-f", "-", stdin=bad, check=False)
        assert r.returncode == 1
        assert 'The Service "broken" is invalid: spec.ports[0].port: Invalid value: 70000 must be between 1 and ' \
               '65535' in r.stderr
    assert "broken" not in netlab("get", "svc", "--name", lab.name).stdout
    assert _nat(lab) == before


def test_kubectl_delete_svc_takes_its_rules_away(api):
    lab, env = api
    svc = ("apiVersion: v1\nkind: Service\nmetadata: {name: doomed}\n"
           "spec:\n  selector: {app: data-product}\n  ports: [{port: 81, targetPort: 50051}]\n")
    assert kubectl(env, "apply", "-f", "-", stdin=svc).stdout.strip() == "service/doomed created"
    assert any('"default/doomed: cluster IP"' in line for line in _nat(lab, "node2"))
    assert kubectl(env, "delete", "svc", "doomed").stdout.strip() == 'service "doomed" deleted'
    assert not any("doomed" in line for line in _nat(lab, "node2"))
    assert "doomed" not in netlab("get", "svc", "--name", lab.name).stdout
    r = kubectl(env, "delete", "svc", "doomed", check=False)
    assert r.returncode == 1 and 'services "doomed" not found' in r.stderr


def test_kubectl_patch_label_and_diff(api):
    lab, env = api
    kubectl(env, "label", "svc", "data-product", "tier=data")
    assert lab.cluster().services[[s.name for s in lab.cluster().services].index("data-product")].labels == \
        {"tier": "data"}
    shown = kubectl(env, "get", "svc", "-l", "tier=data", "-o", "name").stdout.split()
    assert shown == ["service/data-product"]
    kubectl(env, "label", "svc", "data-product", "tier-")
    kubectl(env, "patch", "deployment", "data-product", "--type", "merge", "-p", '{"spec":{"replicas":4}}')
    assert sum(p.owner == "data-product" for p in lab.cluster().pods) == 4
    kubectl(env, "scale", "deployment", "data-product", "--replicas", "3")
    kubectl(env, "apply", "-f", WALKTHROUGH)
    same = kubectl(env, "diff", "-f", WALKTHROUGH, check=False)
    assert same.returncode == 0, same.stderr
    changed = Path(WALKTHROUGH, "business-user.yaml").read_text().replace("replicas: 2", "replicas: 4")
    differs = kubectl(env, "diff", "-f", "-", stdin=changed, check=False)
    assert differs.returncode == 1 and "-  replicas: 2\n+  replicas: 4" in differs.stdout
    assert sum(p.owner == "business-user" for p in lab.cluster().pods) == 2          # a diff changes nothing


def test_kubectl_describe_pod_and_delete_pod(api):
    lab, env = api
    pod = next(p for p in lab.cluster().pods if p.owner == "data-product")
    described = kubectl(env, "describe", "pod", pod.name).stdout
    assert f"Name:         {pod.name}" in described and f"IP:           {pod.ip}" in described
    assert "DB_HOST:" in described and "/etc/db-secret from db-secret (ro)" in described
    assert kubectl(env, "delete", "pod", pod.name).stdout.strip() == f'pod "{pod.name}" deleted'
    pods = [p for p in lab.cluster().pods if p.owner == "data-product"]
    assert len(pods) == 3 and pod.name not in {p.name for p in pods}        # its ReplicaSet made another
