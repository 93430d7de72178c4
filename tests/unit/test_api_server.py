"""The lab's API server, read path, without root: selectors, Tables against netlab's own rows,
Status errors, discovery, and the server itself over plain HTTP on the loopback."""
import http.client
import json
import time

import pytest
from api_http import TOKEN, serving

from netlab import output, pod_phase, state
from netlab.api import resources, selectors
from netlab.api.selectors import SelectorError
from netlab.api.server import _media
from netlab.api.store import Store
from netlab.kernel import netns
from netlab.model.control_plane import admit
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster
from netlab.model.seed import seed_cluster
from netlab.state import LabDir, LabRecord


# ---- selectors ----------------------------------------------------------------------------

LABELS = {"app": "data-product", "tier": "backend", "version": "3"}


@pytest.mark.parametrize("text, matches", [
    ("", True), ("app=data-product", True), ("app==data-product", True), ("app=other", False),
    ("app!=other", True), ("app!=data-product", False), ("missing!=x", True),
    ("app in (data-product, business-manager)", True), ("app in (x,y)", False),
    ("app notin (x,y)", True), ("app notin (data-product)", False), ("missing notin (x)", True),
    ("tier", True), ("missing", False), ("!missing", True), ("!tier", False),
    ("app=data-product,tier=backend", True), ("app=data-product,tier=frontend", False),
    ("app in (data-product),!missing,version>2", True), ("version<3", False), ("version>2", True),
    ("example.com/role!=x", True),
])
def test_label_selectors_as_the_api_server_reads_them(text, matches):
    assert selectors.labels_match(selectors.parse_labels(text), LABELS) is matches


@pytest.mark.parametrize("text", ["app in (", "app in ()", "app=a=b", "=x", "app in (a,(b))", "a b c",
                                  "app=" + "x" * 64, "version>x", ",", "bad key!"])
def test_bad_label_selectors_are_refused(text):
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        selectors.parse_labels(text)


POD = {"metadata": {"name": "p1", "namespace": "default"}, "spec": {"nodeName": "node1"},
       "status": {"phase": "Running", "podIP": "172.30.76.2"}}
PODS = resources.BY_PATH[("", "v1", "pods")]


@pytest.mark.parametrize("text, matches", [
    ("metadata.name=p1", True), ("metadata.name==p1", True), ("metadata.name!=p1", False),
    ("spec.nodeName=node1,status.phase=Running", True), ("spec.nodeName=node2", False),
    ("metadata.namespace=default", True), ("status.podIP=172.30.76.2", True), ("status.phase!=Pending", True),
])
def test_field_selectors(text, matches):
    assert selectors.fields_match(selectors.parse_fields(text, PODS.supported_fields), POD) is matches


def test_a_field_a_kind_has_no_selector_for_is_refused():
    with pytest.raises(SelectorError, match="field label not supported: spec.foo"):
        selectors.parse_fields("spec.foo=x", PODS.supported_fields)
    nodes = resources.BY_PATH[("", "v1", "nodes")]
    with pytest.raises(SelectorError, match="field label not supported: spec.nodeName"):
        selectors.parse_fields("spec.nodeName=x", nodes.supported_fields)
    with pytest.raises(SelectorError, match="can't understand 'metadata.name'"):
        selectors.parse_fields("metadata.name", PODS.supported_fields)


# ---- Status and discovery ---------------------------------------------------------------------

def test_not_found_is_a_status_kubectl_reads():
    assert resources.not_found(PODS, "nope") == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "nope" not found', "reason": "NotFound", "code": 404,
        "details": {"name": "nope", "kind": "pods"}}
    deployments = resources.BY_PATH[("apps", "v1", "deployments")]
    s = resources.not_found(deployments, "x")
    assert s["message"] == 'deployments.apps "x" not found' and s["details"]["group"] == "apps"
    assert resources.status(405, "no")["reason"] == "MethodNotAllowed"


def test_discovery_documents():
    core = resources.resource_list("", "v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    kinds = {"pods", "services", "endpoints", "namespaces", "nodes", "configmaps", "secrets"}
    assert set(by_name) == kinds | {"events", "pods/status", "services/status", "namespaces/status", "nodes/status",
                                    "pods/log"}
    assert {n: by_name[n].get("shortNames") for n in ("pods", "services", "endpoints", "namespaces", "nodes",
                                                      "configmaps")} == \
        {"pods": ["po"], "services": ["svc"], "endpoints": ["ep"], "namespaces": ["ns"], "nodes": ["no"],
         "configmaps": ["cm"]}
    assert all(by_name[n]["verbs"] == resources.VERBS for n in kinds - {"nodes"})
    assert by_name["nodes"]["verbs"] == by_name["events"]["verbs"] == ["get", "list", "watch"]    # the lab's own
    apps = {r["name"]: r for r in resources.resource_list("apps", "v1")["resources"]}
    assert apps["deployments/scale"] == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                         "group": "autoscaling", "version": "v1", "kind": "Scale",
                                         "verbs": ["get", "patch", "update"]}
    assert by_name["nodes"]["namespaced"] is False and by_name["pods"]["namespaced"] is True
    groups = resources.group_list()
    assert groups["kind"] == "APIGroupList"
    assert [g["preferredVersion"]["groupVersion"] for g in groups["groups"]] == \
        ["apps/v1", "networking.k8s.io/v1", "extensions/v1beta1"]
    net = resources.resource_list("networking.k8s.io", "v1")
    assert {r["name"] for r in net["resources"]} == {"ingresses", "ingresses/status", "ingressclasses", "networkpolicies"}
    assert resources.resource_list("batch", "v1") is None and resources.group("batch") is None
    assert resources.api_versions("127.0.0.1:1")["versions"] == ["v1"]


def test_accept_headers():
    kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
              "application/json"
    assert _media(kubectl) == ("table", "v1")
    assert _media("application/json") == ("json", "")
    assert _media("") == ("json", "")
    assert _media("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json") == \
        ("json", "")
    assert _media("application/vnd.kubernetes.protobuf") is None


# ---- a lab's record, without its kernel objects -----------------------------------------------

@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(netns, "exists", lambda name: True)     # every pod's namespace is there
    now = time.time() - 90
    c = seed_cluster("u", now)
    admit(c, now)
    c.endpoints = derive_endpoints(c)
    c.pods[1].ready = False
    c.pods[2].restarts = 2
    d = LabDir("u")
    d.path.mkdir(parents=True)
    d.write({"status": "ready", "created": now, "procs": {}, "namespaces": [], "cluster": c.to_dict()})
    return LabRecord("u")


def _as_kubectl_prints(table: dict, all_ns: bool, wide: bool) -> str:
    """What kubectl prints of a Table (NAMESPACE from the rows' objects with -A)."""
    cols = [i for i, c in enumerate(table["columnDefinitions"]) if wide or c["priority"] == 0]
    headers = [table["columnDefinitions"][i]["name"].upper() for i in cols]
    rows = [[r["cells"][i] for i in cols] for r in table["rows"]]
    if all_ns:
        headers = ["NAMESPACE", *headers]
        rows = [[r["object"]["metadata"]["namespace"], *row] for r, row in zip(table["rows"], rows)]
    return output.table(headers, rows)


def _table(lab, resource: str) -> tuple[dict, float]:
    store = Store(lab)
    store.refresh(force=True)
    rv, items, _ = store.snapshot(resource)
    now = time.time()
    return resources.table(resource, [(i.cells(now), i.obj) for i in items], str(rv)), now


@pytest.mark.parametrize("wide", [False, True])
def test_pods_table_is_netlab_get_pods(lab, wide):
    table, now = _table(lab, "pods")
    c = lab.cluster()
    mine = output.pod_rows(c, c.pods, wide, True, pod_phase.status(lab), now)
    if wide:        # kubectl -o wide shows two more columns: netlab's rows, then those
        assert [d["name"] for d in table["columnDefinitions"][-2:]] == ["Nominated Node", "Readiness Gates"]
        theirs = output.table(*_split_last_two(table, c))
    else:
        theirs = _as_kubectl_prints(table, all_ns=True, wide=False)
    assert theirs == mine
    assert [r["cells"][1:4] for r in table["rows"][:3]] == [["1/1", "Running", "0"], ["0/1", "Running", "0"],
                                                            ["1/1", "Running", "2"]]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0] * 5 + [1] * 4


def _split_last_two(table, c):
    """The wide table without kubectl's NOMINATED NODE and READINESS GATES, for comparing."""
    defs = table["columnDefinitions"][:-2]
    headers = ["NAMESPACE"] + [d["name"].upper() for d in defs]
    rows = [[r["object"]["metadata"]["namespace"], *r["cells"][:-2]] for r in table["rows"]]
    assert all(r["cells"][-2:] == ["<none>", "<none>"] for r in table["rows"])
    return headers, rows


@pytest.mark.parametrize("wide", [False, True])
def test_services_table_is_netlab_get_svc(lab, wide):
    table, now = _table(lab, "services")
    c = lab.cluster()
    assert _as_kubectl_prints(table, all_ns=True, wide=wide) == output.service_rows(c.services, wide, True, now)


def test_other_tables_are_netlab_gets(lab):
    c = lab.cluster()
    table, now = _table(lab, "endpoints")
    created = {(s.namespace, s.name): s.created for s in c.services}
    assert _as_kubectl_prints(table, True, False) == output.endpoints_rows(c.endpoints, True, created, now)
    table, now = _table(lab, "deployments")
    assert _as_kubectl_prints(table, True, False) == output.deployment_rows(c, c.deployments, True, now)
    table, now = _table(lab, "secrets")
    assert _as_kubectl_prints(table, True, False) == output.secret_rows(c.secrets, True, now)
    table, now = _table(lab, "nodes")
    assert _as_kubectl_prints(table, False, False) == \
        output.node_rows(c, c.nodes, False, lab.state()["created"], now, "x")


def test_objects_carry_uid_and_resource_version(lab):
    store = Store(lab)
    store.refresh(force=True)
    rv, pods, _ = store.snapshot("pods")
    assert rv == lab.state()["revision"]
    meta = pods[0].obj["metadata"]
    assert meta["resourceVersion"] == str(rv) and len(meta["uid"]) == 36
    assert meta["ownerReferences"][0]["uid"]
    assert pods[0].obj["spec"]["containers"][0]["name"]       # kubectl logs takes the first
    assert {i.key[1] for i in store.snapshot("namespaces")[1]} >= {"default", "kube-system", "ingress-nginx"}


def test_a_change_is_an_event_and_the_rest_keep_their_version(lab):
    store = Store(lab)
    store.refresh(force=True)
    before = {i.key: i.obj["metadata"]["resourceVersion"] for i in store.snapshot("pods")[1]}
    st = lab.state()
    c = Cluster.from_dict(st["cluster"])
    gone = c.pods.pop(0)
    c.pods[0].restarts = 5
    st["cluster"] = c.to_dict()
    lab.dir.write(st)
    assert store.refresh()
    events = store.resume(int(next(iter(before.values()))))
    assert events is not None
    kinds = {(e.type, e.new["metadata"]["name"]) for e in events[0] if e.resource == "pods"}
    assert kinds == {("DELETED", gone.name), ("MODIFIED", c.pods[0].name)}
    after = {i.key: i.obj["metadata"]["resourceVersion"] for i in store.snapshot("pods")[1]}
    assert after[(c.pods[1].namespace, c.pods[1].name)] == before[(c.pods[1].namespace, c.pods[1].name)]
    assert store.resume(0) is None          # from before the store began: the watch must list again


# ---- the server, over plain HTTP (TLS is the integration test's) ---------------------------------

@pytest.fixture
def server(lab):
    with serving(lab, follow=True) as srv:
        yield srv


def _get(srv, path, token=TOKEN, accept="application/json", method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body) if r.getheader("Content-Type") == "application/json" else body


def test_the_server_listens_on_the_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"


def test_without_the_token_401(server):
    for token in (None, "wrong"):
        code, body = _get(server, "/api/v1/pods", token=token)
        assert code == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"


def test_list_get_and_errors(server):
    code, body = _get(server, "/api/v1/namespaces/default/pods?labelSelector=app%3Ddata-product")
    assert code == 200 and body["kind"] == "PodList" and len(body["items"]) == 3
    assert body["metadata"]["resourceVersion"]
    code, body = _get(server, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode2")
    assert code == 200 and {p["spec"]["nodeName"] for p in body["items"]} == {"node2"}
    name = body["items"][0]["metadata"]["name"]
    ns = body["items"][0]["metadata"]["namespace"]
    code, pod = _get(server, f"/api/v1/namespaces/{ns}/pods/{name}")
    assert code == 200 and pod["kind"] == "Pod" and pod["metadata"]["name"] == name
    code, body = _get(server, "/api/v1/namespaces/default/pods/nope")
    assert code == 404 and body["reason"] == "NotFound" and body["details"] == {"name": "nope", "kind": "pods"}
    code, body = _get(server, "/api/v1/pods?labelSelector=app+in+(")
    assert code == 400 and body["reason"] == "BadRequest"
    code, body = _get(server, "/api/v1/nodes/node1")
    assert code == 200 and body["kind"] == "Node"
    code, body = _get(server, "/apis/apps/v1/namespaces/default/deployments/data-product")
    assert code == 200 and body["spec"]["replicas"] == 3
    code, body = _get(server, "/api/v1/nodes/node1/log")
    assert code == 404
    code, body = _get(server, "/openapi/v2")
    assert code == 404 and body["kind"] == "Status"


def test_tables_when_kubectl_asks(server):
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, body = _get(server, "/api/v1/namespaces/default/services?includeObject=Object", accept=accept)
    assert code == 200 and body["kind"] == "Table" and body["rows"][0]["object"]["kind"] == "Service"
    code, body = _get(server, "/api/v1/pods", accept=accept)
    assert body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_logs(server, lab):
    lab.dir.logs.mkdir(exist_ok=True)
    pod = lab.cluster().pods[0]
    from netlab import layout
    (lab.dir.logs / layout.log_file(layout.pod_proc(pod.namespace, pod.name))).write_text("one\ntwo\nthree\n")
    code, body = _get(server, f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/log?tailLines=2")
    assert code == 200 and body == b"two\nthree\n"
    code, body = _get(server, f"/api/v1/namespaces/{pod.namespace}/pods/{lab.cluster().pods[1].name}/log")
    assert code == 400
    code, body = _get(server, f"/api/v1/namespaces/{pod.namespace}/pods/nope/log")
    assert code == 404


def test_watch_sends_what_exists_then_changes(server, lab):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request("GET", "/api/v1/namespaces/default/endpoints?watch=true&fieldSelector=metadata.name%3D"
                        "data-product&timeoutSeconds=3", headers={"Authorization": f"Bearer {TOKEN}"})
    r = conn.getresponse()
    first = json.loads(r.readline())
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "data-product"
    st = lab.state()
    c = Cluster.from_dict(st["cluster"])
    ep = next(e for e in c.endpoints if e.name == "data-product")
    ep.addresses = ep.addresses[:1]
    st["cluster"] = c.to_dict()
    t0 = time.time()
    lab.dir.write(st)
    event = json.loads(r.readline())
    delay = time.time() - t0
    assert event["type"] == "MODIFIED" and len(event["object"]["subsets"][0]["addresses"]) == 1
    assert int(event["object"]["metadata"]["resourceVersion"]) == lab.state()["revision"]
    assert delay < 0.5
    t = time.monotonic()
    assert r.read() == b""           # timeoutSeconds ends the stream
    assert time.monotonic() - t < 4
    conn.close()


# ---- writes: what is refused, and dry runs (what a write makes is the integration tests') --------

def _write(srv, method, path, body, ctype="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": ctype})
    r = conn.getresponse()
    answer = json.loads(r.read())
    warnings = r.getheader("Warning")
    conn.close()
    return r.status, answer, warnings


SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def test_an_invalid_object_is_422_with_the_field_its_cause(server, lab):
    bad = {**SVC, "spec": {"ports": [{"port": 70000}]}}
    before = lab.state()
    code, body, _ = _write(server, "POST", "/api/v1/namespaces/default/services", bad)
    assert (code, body["reason"], body["details"]["kind"]) == (422, "Invalid", "Service")
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.ports[0].port",
                                          "message": "Invalid value: 70000 must be between 1 and 65535, inclusive"}]
    assert body["message"] == ('Service "web" is invalid: spec.ports[0].port: Invalid value: 70000 must be '
                               'between 1 and 65535, inclusive')
    taken = {**SVC, "spec": {**SVC["spec"], "clusterIP": "10.254.0.2"}}      # kube-dns's: the admission's check
    code, body, _ = _write(server, "POST", "/api/v1/namespaces/default/services", taken)
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.clusterIP"
    assert lab.state() == before


def test_conflicts_and_missing_objects(server):
    existing = {**SVC, "metadata": {"name": "data-product"}}
    code, body, _ = _write(server, "POST", "/api/v1/namespaces/default/services", existing)
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'services "data-product" already exists')
    code, svc = _get(server, "/api/v1/namespaces/default/services/data-product")
    stale = {**svc, "metadata": {**svc["metadata"], "resourceVersion": "999"}}
    code, body, _ = _write(server, "PUT", "/api/v1/namespaces/default/services/data-product", stale)
    assert (code, body["reason"]) == (409, "Conflict") and "the object has been modified" in body["message"]
    code, body, _ = _write(server, "PATCH", "/api/v1/namespaces/default/services/nope", {"metadata": {}},
                           "application/merge-patch+json")
    assert (code, body["message"]) == (404, 'services "nope" not found')
    code, body, _ = _write(server, "PATCH", "/api/v1/namespaces/default/services/data-product", [],
                           "application/json-patch+json")
    assert code == 415 and "not supported" in body["message"]
    code, body, _ = _write(server, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                             "metadata": {"name": "n3"}})
    assert code == 405
    code, body, _ = _write(server, "POST", "/api/v1/namespaces/default/services", {**SVC, "kind": "Pod"})
    assert code == 400 and "the request is for v1 Service" in body["message"]
    code, body, _ = _write(server, "POST", "/api/v1/namespaces/default/services", b"{not json")
    assert code == 400 and "not valid JSON" in body["message"]


def test_dry_runs_answer_the_object_and_change_nothing(server, lab):
    before = lab.state()
    code, body, warnings = _write(server, "POST", "/api/v1/namespaces/default/services?dryRun=All",
                                  {**SVC, "spec": {**SVC["spec"], "publishNotReadyAddresses": True}})
    assert code == 201 and body["spec"]["clusterIP"].startswith("10.254.")      # allocated, as it would be
    assert "spec.publishNotReadyAddresses is not implemented by netlab" in warnings
    code, body, _ = _write(server, "PATCH", "/apis/apps/v1/namespaces/default/deployments/data-product?dryRun=All",
                           {"metadata": {"labels": {"tier": "data"}}}, "application/strategic-merge-patch+json")
    assert code == 200 and body["metadata"]["labels"] == {"app": "data-product", "tier": "data"}
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"] for e in container["env"]} >= {"DB_HOST", "DB_PASSWORD"}      # the rest of it kept
    assert container["volumeMounts"] == [{"name": "db-secret", "mountPath": "/etc/db-secret", "readOnly": True}]
    code, body, _ = _write(server, "PATCH", "/apis/apps/v1/namespaces/default/deployments/data-product/scale"
                                            "?dryRun=All", {"spec": {"replicas": 7}}, "application/merge-patch+json")
    assert code == 200 and body["kind"] == "Scale" and body["spec"]["replicas"] == 7
    assert body["status"]["selector"] == "app=data-product"
    code, body, _ = _write(server, "PATCH", "/apis/apps/v1/namespaces/default/deployments/data-product/scale",
                           {"spec": {"replicas": -1}}, "application/merge-patch+json")
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.replicas"
    code, body, _ = _write(server, "DELETE", "/api/v1/namespaces/default/services/data-product?dryRun=All", {})
    assert code == 200 and body["metadata"]["name"] == "data-product"
    assert lab.state() == before


def test_a_deployments_pod_is_changed_only_through_it(server):
    code, pods = _get(server, "/api/v1/namespaces/default/pods?labelSelector=app%3Ddata-product")
    name = pods["items"][0]["metadata"]["name"]
    code, body, _ = _write(server, "PATCH", f"/api/v1/namespaces/default/pods/{name}",
                           {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
    assert code == 405 and "only through its Deployment" in body["message"]


def test_openapi_says_the_server_validates_fields():
    from netlab.api import openapi
    index = openapi.index()["paths"]
    assert set(index) == {"api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1", "apis/extensions/v1beta1"}
    doc = openapi.document("apps", "v1")
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    assert "patch" not in openapi.document("", "v1")["paths"]["/api/v1/nodes/{name}"]
    assert openapi.document("batch", "v1") is None


def test_protobuf_is_refused_with_the_way_round_it(server):
    code, body, _ = _write(server, "POST", "/apis/apps/v1/namespaces/default/deployments", b"k8s\x00\n",
                           "application/vnd.kubernetes.protobuf")
    assert code == 415 and "not protobuf" in body["message"] and "kubectl apply -f -" in body["message"]


def test_a_merged_kubeconfig_keeps_the_users_own_entries():
    from netlab.api.lifecycle import merged
    theirs = {"apiVersion": "v1", "kind": "Config", "current-context": "work", "preferences": {"colors": True},
              "clusters": [{"name": "work", "cluster": {"server": "https://w"}},
                           {"name": "lab1", "cluster": {"server": "https://old"}}],
              "users": [{"name": "me", "user": {}}], "contexts": [{"name": "work", "context": {"cluster": "work"}}]}
    lab = {"clusters": [{"name": "lab1", "cluster": {"server": "https://127.0.0.1:1"}}],
           "users": [{"name": "lab1-admin", "user": {"token": "t"}}],
           "contexts": [{"name": "lab1", "context": {"cluster": "lab1", "user": "lab1-admin"}}],
           "current-context": "lab1"}
    out = merged(theirs, lab)
    assert [c["name"] for c in out["clusters"]] == ["work", "lab1"]
    assert out["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:1"       # the lab's, not the stale one
    assert [u["name"] for u in out["users"]] == ["me", "lab1-admin"]
    assert out["current-context"] == "lab1" and out["preferences"] == {"colors": True}
    assert merged(None, lab)["contexts"] == lab["contexts"]


def test_a_deployments_uid_stays_when_its_pods_are_replaced(lab):
    from netlab.lab import _stamp
    st = lab.state()
    c = Cluster.from_dict(st["cluster"])
    _stamp(c, time.time() - 60)                 # as Lab.up and Lab.update stamp what they store
    st["cluster"] = c.to_dict()
    lab.dir.write(st)
    store = Store(lab)
    store.refresh(force=True)

    def uid():
        return next(i.obj["metadata"]["uid"] for i in store.snapshot("deployments")[1] if i.key[1] == "data-product")
    before = uid()
    for p in c.pods:
        p.created += 30                         # its pods made anew, later
    st["cluster"] = c.to_dict()
    lab.dir.write(st)
    store.refresh()
    assert uid() == before


def test_the_dns_add_ons_deployment_is_scaled_not_replaced(server):
    code, body, _ = _write(server, "PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/kube-dns",
                           {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
    assert code == 405 and "may be scaled or deleted, not replaced" in body["message"]
    code, body, _ = _write(server, "PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/kube-dns/scale"
                                            "?dryRun=All", {"spec": {"replicas": 2}}, "application/merge-patch+json")
    assert code == 200 and body["spec"]["replicas"] == 2
