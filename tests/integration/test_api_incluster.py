"""Pods reach the lab's API as a real pod reaches its cluster's: the `kubernetes` Service
(10.254.0.1:443, DNAT by kube-proxy to the API server's socket in node1's namespace,
192.168.0.21:6443), with the service account's token and the CA the kubelet mounts at
/var/run/secrets/kubernetes.io/serviceaccount. Everything runs inside the pods (netlab exec)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).parent))

from helpers import leftovers, netlab, sh, unique  # noqa: E402

from netlab import layout  # noqa: E402
from netlab.api import lifecycle  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402
from netlab.state import LabDir  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
ON_NODE1 = "business-manager-666f454f7f-7l86b"
ON_NODE2 = "business-manager-666f454f7f-zxmsx"
INGRESS = "nginx-ingress-controller-546bfbff9-hpwsz"      # namespace ingress-nginx
DNS = "kube-dns-7cd94476cd-kr76t"                           # kube-system, on node2


@pytest.fixture(scope="module")
def lab():
    """A seed lab with its API server, as `netlab up` brings them up (the pods first)."""
    name = unique("ic-")
    lab = Lab.up(seed_cluster(name, time.time()))
    try:
        lifecycle.start(name)
        yield lab
    finally:
        if LabDir(name).exists():
            lab.down()
        assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


def in_pod(lab, pod: str, script: str) -> subprocess.CompletedProcess:
    return netlab("exec", "--name", lab.name, pod, "--", "sh", "-c", script, check=False, timeout=30)


def curl(lab, pod: str, url: str, *opts: str, token: str = f"$(cat {SA}/token)") -> tuple[int, dict]:
    """An HTTPS request from inside `pod`, the server checked against the mounted CA; (code, JSON)."""
    r = in_pod(lab, pod, f'curl -sS --max-time 10 --cacert {SA}/ca.crt -H "Authorization: Bearer {token}" '
                         f'{" ".join(opts)} -w "\\n%{{http_code}}" {url}')
    assert r.returncode == 0, r.stderr + r.stdout
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body)


@pytest.mark.parametrize("pod", [ON_NODE1, ON_NODE2])
def test_a_pod_on_either_node_lists_pods_through_the_kubernetes_service(lab, pod):
    code, doc = curl(lab, pod, "https://10.254.0.1:443/api/v1/namespaces/default/pods")
    assert code == 200 and doc["kind"] == "PodList"
    assert {p["metadata"]["name"] for p in doc["items"]} == {p.name for p in lab.cluster().pods
                                                            if p.namespace == "default"}


@pytest.mark.parametrize("host", ["kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes"])
def test_by_the_cluster_dns_name_the_certificate_checks_out(lab, host):
    code, doc = curl(lab, ON_NODE2, f"https://{host}/api/v1/namespaces/kube-system/pods")
    assert code == 200 and [p["metadata"]["name"] for p in doc["items"]] == ["kube-dns-7cd94476cd-kr76t"]


def test_a_wrong_token_is_401_and_a_write_with_the_token_403(lab):
    code, doc = curl(lab, ON_NODE1, "https://10.254.0.1/api/v1/pods", token="not-a-token")
    assert (code, doc["reason"]) == (401, "Unauthorized")
    code, doc = curl(lab, ON_NODE1, "https://10.254.0.1/api/v1/namespaces/default/pods", "-X", "POST",
                     "-H", "'Content-Type: application/json'", "-d", "'{}'")
    assert (code, doc["reason"], doc["kind"]) == (403, "Forbidden", "Status")
    assert doc["message"] == ('pods is forbidden: User "system:serviceaccount:default:default" cannot create '
                              'resource "pods" in API group "" in the namespace "default"')
    code, doc = curl(lab, INGRESS, f"https://10.254.0.1/api/v1/namespaces/default/pods/{ON_NODE1}", "-X", "DELETE")
    assert code == 403 and doc["message"] == (
        f'pods "{ON_NODE1}" is forbidden: User "system:serviceaccount:ingress-nginx:default" cannot delete '
        f'resource "pods" in API group "" in the namespace "default"')
    assert ON_NODE1 in {p.name for p in lab.cluster().pods}


# (not the ingress's pod: nginx, its PID 1, writes its process title over its environment)
@pytest.mark.parametrize("pod, namespace", [(ON_NODE1, "default"), (DNS, "kube-system")])
def test_the_mounted_files_and_the_variables(lab, pod, namespace):
    files = lifecycle.Files(lab.dir)
    r = in_pod(lab, pod, f"cat {SA}/namespace; echo; cat {SA}/ca.crt; touch {SA}/x 2>&1; "
                         "tr '\\0' '\\n' < /proc/1/environ | grep ^KUBERNETES_ | sort")
    lines = r.stdout.splitlines()
    assert lines[0] == namespace
    assert "\n".join(lines[1:]).startswith(files.ca_crt.read_text())        # the API server's own CA
    assert any("Read-only file system" in line for line in lines)
    assert [line for line in lines if line.startswith("KUBERNETES_")] == [
        "KUBERNETES_PORT=tcp://10.254.0.1:443", "KUBERNETES_PORT_443_TCP=tcp://10.254.0.1:443",
        "KUBERNETES_PORT_443_TCP_ADDR=10.254.0.1", "KUBERNETES_PORT_443_TCP_PORT=443",
        "KUBERNETES_PORT_443_TCP_PROTO=tcp", "KUBERNETES_SERVICE_HOST=10.254.0.1", "KUBERNETES_SERVICE_PORT=443",
        "KUBERNETES_SERVICE_PORT_HTTPS=443"]


def test_the_kubernetes_endpoints_are_node1s_api_port(lab):
    out = netlab("get", "ep", "kubernetes", "--name", lab.name).stdout
    assert out.splitlines()[1].split()[:2] == ["kubernetes", "192.168.0.21:6443"]
    code, doc = curl(lab, ON_NODE2, "https://10.254.0.1/api/v1/namespaces/default/endpoints/kubernetes")
    assert code == 200 and doc["subsets"] == [{"addresses": [{"ip": "192.168.0.21"}],
                                               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    for node in ("node1", "node2"):
        nat = sh(layout.node_ns(lab.name, node), "iptables-legacy-save", "-t", "nat").stdout
        assert "-j DNAT --to-destination 192.168.0.21:6443" in nat


def test_the_server_listens_in_node1_and_on_the_hosts_loopback_only(lab):
    def listening(*ns: str) -> list[str]:
        argv = ["ss", "-Hltn"]
        r = sh(ns[0], *argv) if ns else subprocess.run(argv, capture_output=True, text=True, check=True)
        return [line.split()[3] for line in r.stdout.splitlines()]
    assert "192.168.0.21:6443" in listening(layout.node_ns(lab.name, "node1"))
    assert not any(a.endswith(":6443") for a in listening(layout.node_ns(lab.name, "node2")))
    port = lifecycle.Files(lab.dir).port()
    host = listening()
    assert f"127.0.0.1:{port}" in host and not any(a.endswith(":6443") for a in host)


def test_the_certificate_names_what_pods_and_kubectl_use(lab):
    cert = x509.load_pem_x509_certificate(lifecycle.Files(lab.dir).server_crt.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.254.0.1", "192.168.0.21"}
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
        "localhost"}
