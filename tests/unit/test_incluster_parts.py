"""In-cluster access to the lab's API, without root: the certificate's names, the kubelet's
variables, where the service account's files go, tokens and who they are, what a service
account may do and how a refusal is worded, and the server answering a pod's token."""
from __future__ import annotations

import os

import pytest
from test_api_server import TOKEN, _get, lab, server  # noqa: F401 - (fixtures)

from netlab import runtime
from netlab.api import auth, incluster
from netlab.api.auth import RequestInfo, request_info
from netlab.api.files import Files
from netlab.model.objects import ServicePort
from netlab.model.seed import seed_cluster
from netlab.state import LabDir


# ---- the certificate's names, the variables, the address ----------------------------------------

def test_the_certificate_is_for_every_name_a_pod_or_kubectl_uses():
    assert incluster.hosts(seed_cluster()) == [
        "127.0.0.1", "10.254.0.1", "192.168.0.21", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local", "localhost"]


def test_the_names_follow_the_lab_its_domain_and_its_first_node():
    c = seed_cluster()
    c.dns_domain = "lab.example."
    c.nodes.reverse()
    hosts = incluster.hosts(c)
    assert "kubernetes.default.svc.lab.example" in hosts and "192.168.0.22" in hosts and "192.168.0.21" not in hosts
    c.services = [s for s in c.services if s.name != "kubernetes"]
    assert incluster.hosts(c) == ["127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                  "kubernetes.default.svc.lab.example", "localhost"]


def test_the_kubelets_variables_for_the_master_service():
    assert incluster.environment(seed_cluster()) == {
        "KUBERNETES_SERVICE_HOST": "10.254.0.1", "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.254.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.254.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.254.0.1"}


def test_no_variables_and_no_address_without_the_service():
    c = seed_cluster()
    c.services = [s for s in c.services if s.name != "kubernetes"]
    assert incluster.environment(c) == {} and incluster.address(c) is None


def test_every_port_gets_its_variables_the_first_is_the_services():
    c = seed_cluster()
    api = next(s for s in c.services if s.name == "kubernetes")
    api.ports.append(ServicePort(8080, "plain-http", "TCP", 8080))
    env = incluster.environment(c)
    assert env["KUBERNETES_SERVICE_PORT"] == "443" and env["KUBERNETES_SERVICE_PORT_PLAIN_HTTP"] == "8080"
    assert env["KUBERNETES_PORT_8080_TCP_ADDR"] == "10.254.0.1"


def test_the_api_listens_where_its_endpoints_say():
    assert incluster.address(seed_cluster()) == ("node1", "192.168.0.21", 6443)


def test_the_files_go_to_var_run_resolved():
    want = os.path.join(os.path.realpath("/var/run"), "secrets/kubernetes.io/serviceaccount")
    assert incluster.mount_path() == want
    if os.path.islink("/var/run"):          # Debian's: the pod's own /run holds them
        assert want == "/run/secrets/kubernetes.io/serviceaccount"


# ---- tokens and identities ------------------------------------------------------------------

def test_a_service_accounts_token_says_who_it_is():
    token = auth.service_account_token(TOKEN, "kube-system")
    who = auth.identity(TOKEN, token)
    assert who == auth.service_account("kube-system")
    assert who.user == "system:serviceaccount:kube-system:default" and not who.admin
    assert "system:serviceaccounts:kube-system" in who.groups
    assert auth.service_account_token(TOKEN, "kube-system") == token     # the same across a pod's restarts
    assert auth.service_account_token(TOKEN, "default") != token


def test_the_labs_token_is_the_admin_and_nothing_else_is_anybody():
    assert auth.identity(TOKEN, TOKEN) == auth.ADMIN and auth.ADMIN.admin
    token = auth.service_account_token(TOKEN, "default")
    assert auth.identity("another-labs-token", token) is None
    head, claims, sig = token.split(".")
    forged = auth._b64(auth._unb64(claims).replace(b'"default"', b'"kube-system"'))
    assert auth.identity(TOKEN, f"{head}.{forged}.{sig}") is None
    for bad in ("", "wrong", "a.b.c", TOKEN + "x", token[:-2]):
        assert auth.identity(TOKEN, bad) is None
    assert auth.identity("", "") is None


# ---- what a request asks, and who may ---------------------------------------------------------

@pytest.mark.parametrize("method, target, want", [
    ("GET", "/api/v1/pods", RequestInfo("list", "/api/v1/pods", "pods")),
    ("GET", "/api/v1/namespaces/default/pods/p", RequestInfo("get", "/api/v1/namespaces/default/pods/p", "pods",
                                                               namespace="default", name="p")),
    ("GET", "/api/v1/namespaces/default/pods?watch=true", RequestInfo("watch", "/api/v1/namespaces/default/pods",
                                                                      "pods", namespace="default")),
    ("GET", "/api/v1/namespaces/d/pods/p/log", RequestInfo("get", "/api/v1/namespaces/d/pods/p/log", "pods", "log",
                                                           namespace="d", name="p")),
    ("POST", "/apis/apps/v1/namespaces/d/deployments", RequestInfo("create", "/apis/apps/v1/namespaces/d/deployments",
                                                                   "deployments", group="apps", namespace="d")),
    ("DELETE", "/api/v1/namespaces/d/pods", RequestInfo("deletecollection", "/api/v1/namespaces/d/pods", "pods",
                                                        namespace="d")),
    ("PATCH", "/api/v1/namespaces/d", RequestInfo("patch", "/api/v1/namespaces/d", "namespaces", namespace="d",
                                                  name="d")),
    ("PUT", "/api/v1/namespaces/d/status", RequestInfo("update", "/api/v1/namespaces/d/status", "namespaces",
                                                       "status", namespace="d", name="d")),
    ("GET", "/version", RequestInfo("get", "/version")),
    ("POST", "/apis", RequestInfo("post", "/apis")),
])
def test_request_info(method, target, want):
    assert request_info(method, target) == want


def test_a_service_account_may_read_and_the_admin_anything():
    sa = auth.service_account("default")
    for method, target in [("GET", "/api/v1/pods"), ("GET", "/api/v1/namespaces/kube-system/secrets/x"),
                           ("GET", "/api/v1/pods?watch=1"), ("HEAD", "/healthz"), ("GET", "/apis")]:
        assert auth.may(sa, request_info(method, target)), target
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert not auth.may(sa, request_info(method, "/api/v1/namespaces/default/pods/p"))
        assert auth.may(auth.ADMIN, request_info(method, "/api/v1/namespaces/default/pods/p"))


def test_refusals_are_worded_as_the_api_servers():
    sa = auth.service_account("default")
    doc = auth.forbidden(sa, request_info("POST", "/api/v1/namespaces/default/pods"))
    assert doc == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 403,
                   "reason": "Forbidden", "details": {"kind": "pods"},
                   "message": 'pods is forbidden: User "system:serviceaccount:default:default" cannot create '
                              'resource "pods" in API group "" in the namespace "default"'}
    doc = auth.forbidden(sa, request_info("DELETE", "/apis/apps/v1/namespaces/shop/deployments/web"))
    assert doc["message"] == ('deployments.apps "web" is forbidden: User "system:serviceaccount:default:default" '
                              'cannot delete resource "deployments" in API group "apps" in the namespace "shop"')
    assert doc["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    doc = auth.forbidden(sa, request_info("POST", "/api/v1/nodes"))
    assert doc["message"].endswith('cannot create resource "nodes" in API group "" at the cluster scope')
    doc = auth.forbidden(sa, request_info("POST", "/version"))
    assert doc["message"] == 'forbidden: User "system:serviceaccount:default:default" cannot post path "/version"'


# ---- the server, to a pod's token ----------------------------------------------------------------

def test_the_server_serves_a_service_account_reads_and_refuses_its_writes(server):    # noqa: F811
    token = auth.service_account_token(TOKEN, "default")
    code, body = _get(server, "/api/v1/namespaces/default/pods", token=token)
    assert code == 200 and body["kind"] == "PodList"
    code, body = _get(server, "/api/v1/namespaces/default/pods", token=token, method="POST")
    assert code == 403 and body["reason"] == "Forbidden" and "system:serviceaccount:default:default" in body["message"]
    code, body = _get(server, "/api/v1/namespaces/default/pods", method="POST")       # the admin: not refused
    assert code != 403
    code, body = _get(server, "/api/v1/pods", token=auth.service_account_token("other", "default"))
    assert code == 401


# ---- the files, made by the lab's build -------------------------------------------------------------

def test_a_pods_service_account_files_and_variables(lab, monkeypatch):       # noqa: F811
    monkeypatch.setattr(runtime.Runtime, "uid", lambda self, c, p: os.geteuid())
    c = lab.cluster()
    files = Files(LabDir(lab.name))
    assert not files.exist()
    pod = next(p for p in c.pods if p.namespace == "kube-system")
    spec = runtime.Runtime(lab.dir).pod(c, pod)
    assert files.exist()            # made for the pod, before any API server
    home = lab.dir.pod_dir(pod.namespace, pod.name) / "serviceaccount"
    assert (str(home), incluster.mount_path()) in spec.box.binds
    assert (home / "namespace").read_text() == "kube-system"
    assert (home / "ca.crt").read_bytes() == files.ca_crt.read_bytes()
    assert auth.identity(files.token(), (home / "token").read_text()) == auth.service_account("kube-system")
    assert spec.env["KUBERNETES_SERVICE_HOST"] == "10.254.0.1" and spec.env["KUBERNETES_SERVICE_PORT"] == "443"
    ca = files.ca_crt.read_bytes()
    files.make(c)
    runtime.Runtime(lab.dir).pod(c, pod)
    assert files.ca_crt.read_bytes() == ca          # once per lab
