"""The lab's API server driven by the real kubectl and the Kubernetes Python client."""
from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import netlab, unique  # noqa: E402
from kube import kubectl, needs_kubectl, seed_with_api  # noqa: E402

from netlab.api import lifecycle  # noqa: E402
from netlab.kernel import process  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402
from netlab.state import LabDir, LabRecord  # noqa: E402

pytestmark = needs_kubectl


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with seed_with_api(tmp_path_factory.mktemp("home")) as running:
        yield running


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def _same_rows(mine: list[list[str]], theirs: list[list[str]], age_column: int) -> None:
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert len(a) == len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            if i == age_column and x != y:          # AGE: a second may pass between the two commands
                assert abs(int(x.rstrip("s")) - int(y.rstrip("s"))) <= 1, (a, b)
            else:
                assert x == y, (a, b)


def test_kubectl_get_pods_is_netlab_get_pods(api):
    lab, env = api
    theirs = _rows(kubectl(env, "get", "pods", "-A", "-o", "wide").stdout)
    mine = _rows(netlab("get", "pods", "-A", "-o", "wide", "--name", lab.name).stdout)
    assert theirs[0] == mine[0] + ["NOMINATED NODE", "READINESS GATES"]
    assert all(row[-2:] == ["<none>", "<none>"] for row in theirs[1:])
    _same_rows(mine, [row[:-2] for row in theirs], mine[0].index("AGE"))


def test_label_selector_and_jsonpath(api):
    lab, env = api
    ips = kubectl(env, "get", "pods", "-l", "app=data-product", "-o", "jsonpath={.items[*].status.podIP}").stdout
    want = {p.ip for p in lab.cluster().pods if p.labels.get("app") == "data-product"}
    assert set(ips.split()) == want and len(want) == 3
    node2 = kubectl(env, "get", "pods", "-A", "--field-selector", "spec.nodeName=node2", "-o", "name").stdout
    assert {line.removeprefix("pod/") for line in node2.split()} == \
        {p.name for p in lab.cluster().pods if p.node == "node2"}


def test_services_endpoints_nodes(api):
    lab, env = api
    _same_rows(_rows(netlab("get", "svc", "--name", lab.name).stdout), _rows(kubectl(env, "get", "svc").stdout), 5)
    ep = kubectl(env, "get", "endpoints", "data-product", "-o", "yaml").stdout
    for p in lab.cluster().pods:
        if p.labels.get("app") == "data-product":
            assert f"ip: {p.ip}" in ep
    assert "kind: Endpoints" in ep and "resourceVersion:" in ep
    nodes = _rows(kubectl(env, "get", "nodes").stdout)
    assert [r[:2] for r in nodes] == [["NAME", "STATUS"], ["node1", "Ready"], ["node2", "Ready"]]
    deploy = _rows(kubectl(env, "get", "deploy", "-A").stdout)
    assert ["default", "data-product", "3/3", "3", "3"] == deploy[2][:5]


def test_logs_and_not_found(api):
    lab, env = api
    pod = next(p for p in lab.cluster().pods if p.labels.get("app") == "data-product")
    log = (lab.dir.logs / f"pod_default_{pod.name}.log").read_text().splitlines()
    out = kubectl(env, "logs", pod.name, "--tail", "2").stdout.splitlines()
    assert out == log[-2:] and out
    r = kubectl(env, "get", "pod", "no-such-pod", check=False)
    assert r.returncode == 1 and r.stderr.strip() == 'Error from server (NotFound): pods "no-such-pod" not found'
    r = kubectl(env, "logs", "no-such-pod", check=False)
    assert r.returncode == 1 and 'pods "no-such-pod" not found' in r.stderr


def test_kubeconfig_merge_adds_the_labs_context_to_the_users_file(api, tmp_path):
    lab, env = api
    own = tmp_path / "config"
    own.write_text("apiVersion: v1\nkind: Config\ncurrent-context: work\nclusters:\n"
                   "- {name: work, cluster: {server: 'https://192.0.2.1'}}\ncontexts:\n"
                   "- {name: work, context: {cluster: work}}\nusers: []\n")
    said = netlab("kubeconfig", "--name", lab.name, "--merge", str(own)).stdout
    assert f"context '{lab.name}' merged into {own}" in said
    mine = {**env, "KUBECONFIG": str(own)}
    assert sorted(kubectl(mine, "config", "get-contexts", "-o", "name").stdout.split()) == sorted(["work", lab.name])
    assert kubectl(mine, "config", "current-context").stdout.strip() == lab.name
    assert kubectl(mine, "get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"
    assert oct(own.stat().st_mode & 0o777) == "0o600"


def test_no_token_is_401(api):
    lab, _ = api
    files = lifecycle.Files(lab.dir)
    ctx = ssl.create_default_context(cafile=str(files.ca_crt))      # the server's certificate checks out
    with socket.create_connection(("127.0.0.1", files.port())) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /api/v1/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 401") and b'"reason": "Unauthorized"' in answer
    assert oct(files.token_file.stat().st_mode & 0o777) == "0o600"
    # the host's loopback only
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{files.port()}"], capture_output=True, text=True).stdout
    assert listening.split()[3] == f"127.0.0.1:{files.port()}"


def test_python_client_lists_and_watches(api):
    kubernetes = pytest.importorskip("kubernetes")
    lab, env = api
    kubernetes.config.load_kube_config(env["KUBECONFIG"])
    v1 = kubernetes.client.CoreV1Api()
    pods = v1.list_pod_for_all_namespaces()
    assert {p.metadata.name for p in pods.items} == {p.name for p in lab.cluster().pods}
    assert pods.metadata.resource_version
    w = kubernetes.watch.Watch()
    seen = [ev["object"].metadata.name for ev in
            w.stream(v1.list_namespaced_pod, "default", label_selector="app=business-manager", timeout_seconds=1)]
    assert sorted(seen) == sorted(p.name for p in lab.cluster().pods if p.labels.get("app") == "business-manager")


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_netlab_down_stops_the_server():
    name = unique("a")
    Lab.up(seed_cluster(name, time.time()))
    try:
        port = lifecycle.start(name)
        proc = next(p for p in LabRecord(name).procs() if p.name == lifecycle.PROC)
        assert process.alive(proc)
        under = [proc.pid, *process.descendants(proc.pid)]
        netlab("down", "--name", name)
        assert not process.alive(proc)
        deadline = time.monotonic() + 5          # (its program may take a moment to be reaped)
        while any(_running(pid) for pid in under) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [pid for pid in under if _running(pid)] == []
        with pytest.raises(ConnectionRefusedError, match="refused"):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if LabDir(name).exists():
            Lab(name).down()


def test_the_server_ends_when_its_labs_directory_goes(tmp_path):
    """A record removed by hand (clean --name then finds the namespaces): the server, which is
    in none of them, ends by itself and nothing starts it again."""
    name = unique("a")
    lab = Lab.up(seed_cluster(name, time.time()))
    try:
        lifecycle.start(name)
        proc = next(p for p in LabRecord(name).procs() if p.name == lifecycle.PROC)
        state = lab.dir.state_file.read_text()
        kept = tmp_path / "state.json"
        kept.write_text(state)
        shutil.move(str(lab.dir.path), str(tmp_path / "run"))
        deadline = time.monotonic() + 5
        while process.alive(proc) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not process.alive(proc)
    finally:
        if (tmp_path / "run").exists() and not lab.dir.path.exists():
            shutil.move(str(tmp_path / "run"), str(lab.dir.path))
        if LabDir(name).exists():
            lab.down()
