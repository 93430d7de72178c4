"""The API server's store: what apply says per object (created, configured, unchanged)
after the control plane admitted the change, as kubectl apply says it."""
import copy
import textwrap
import time

from netlab.model import manifests, store
from netlab.model.control_plane import admit
from netlab.model.seed import seed_cluster

OBJECTS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, command: [netlab-whoami, --port, "8080"],
                    ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: shop}
spec:
  containers: [{name: tool, image: busybox, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: shop}
stringData: {token: one}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {level: info}
"""


def _manifests(tmp_path, text, name="m.yaml"):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text))
    return manifests.load(f)


def _apply(cluster, items):
    """As netlab apply does: snapshot, apply, the control plane, then what changed."""
    before = store.snapshot(cluster, items)
    store.apply(cluster, items)
    admit(cluster, time.time())
    return [f"{m.kind.lower()}/{m.key[2]} {o}" for m, o in zip(items, store.outcomes(before, cluster, items))]


def test_a_first_apply_creates_and_the_same_again_changes_nothing(tmp_path):
    c = seed_cluster()
    first = _apply(c, _manifests(tmp_path, OBJECTS))
    assert first == ["namespace/shop created", "service/web created", "deployment/web created",
                     "pod/tool created", "secret/token created", "configmap/settings created"]
    # The service's allocated clusterIP and nodePort, the deployment's pod template hash and
    # the objects' creation times are the server's: applying the same file keeps them.
    assert _apply(c, _manifests(tmp_path, OBJECTS)) == [line.replace("created", "unchanged") for line in first]


def test_a_changed_field_is_configured_and_only_that_object(tmp_path):
    c = seed_cluster()
    _apply(c, _manifests(tmp_path, OBJECTS))
    changed = OBJECTS.replace("replicas: 2", "replicas: 3").replace("token: one", "token: two")
    assert _apply(c, _manifests(tmp_path, changed)) == [
        "namespace/shop unchanged", "service/web unchanged", "deployment/web configured",
        "pod/tool unchanged", "secret/token configured", "configmap/settings unchanged"]


def test_status_is_not_a_change(tmp_path):
    """A pod that became ready, or restarted, has not been configured by the user."""
    c = seed_cluster()
    items = _manifests(tmp_path, OBJECTS)
    _apply(c, items)
    tool = next(p for p in c.pods if p.name == "tool")
    tool.ready, tool.restarts = not tool.ready, 3
    assert "pod/tool unchanged" in _apply(c, _manifests(tmp_path, OBJECTS))


def test_a_namespace_already_in_use_is_unchanged(tmp_path):
    c = seed_cluster()
    items = _manifests(tmp_path, """
        apiVersion: v1
        kind: Namespace
        metadata: {name: kube-system}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: brand-new}
        """)
    assert _apply(c, items) == ["namespace/kube-system unchanged", "namespace/brand-new created"]


def test_an_objects_own_change_is_configured_even_when_the_server_fills_the_rest(tmp_path):
    """A Service given a clusterIP of its own, other than the one allocated before: configured."""
    c = seed_cluster()
    _apply(c, _manifests(tmp_path, OBJECTS))
    web = next(s for s in c.services if s.name == "web")
    pinned = OBJECTS.replace("type: NodePort", f"type: NodePort\n  clusterIP: {_other_ip(web.cluster_ip)}")
    assert "service/web configured" in _apply(c, _manifests(tmp_path, pinned))


def _other_ip(ip: str) -> str:
    head, last = ip.rsplit(".", 1)
    return f"{head}.{int(last) % 250 + 2}"


def test_apply_replaces_in_place_and_moves_the_object_to_the_end(tmp_path):
    """A replaced object is found by namespace and name, and comes after the others, as a delete and
    a create would leave it (what get lists)."""
    c = seed_cluster()
    names_before = [(s.namespace, s.name) for s in c.services]
    first = names_before[0]
    items = _manifests(tmp_path, f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: {first[1]}, namespace: {first[0]}}}
        spec: {{ports: [{{port: 1234}}]}}
        """)
    store.apply(c, items)
    assert [(s.namespace, s.name) for s in c.services] == names_before[1:] + [first]
    assert c.services[-1].ports[0].port == 1234



def test_each_objects_document_is_kept_as_given_and_goes_with_it(tmp_path):
    """What the API serves back (kubectl apply's annotation, a container's name): the document
    as applied, without its status and the server's metadata; deleting the object drops it."""
    from netlab.model.objects import Cluster
    c = seed_cluster()
    annotated = OBJECTS.replace("metadata: {name: web, namespace: shop}\nspec:\n  replicas",
                                "metadata: {name: web, namespace: shop, annotations: {a: '1'}, uid: x}\n"
                                "status: {replicas: 9}\nspec:\n  replicas")
    _apply(c, _manifests(tmp_path, annotated))
    doc = c.document("Deployment", "shop", "web")
    assert doc["metadata"] == {"name": "web", "namespace": "shop", "annotations": {"a": "1"}}
    assert "status" not in doc and doc["spec"]["template"]["spec"]["containers"][0]["name"] == "web"
    assert Cluster.from_dict(c.to_dict()).document("Deployment", "shop", "web") == doc     # in the record
    assert "deployment/web configured" in _apply(c, _manifests(tmp_path, annotated.replace("a: '1'", "a: '2'")))
    assert store.remove(c, "Deployment", "shop", "web") and c.document("Deployment", "shop", "web") is None
    assert not store.remove(c, "Deployment", "shop", "web")
    assert store.remove(c, "Service", "shop", "web") and c.document("Service", "shop", "web") is None


def test_a_change_to_a_cluster_read_from_a_record_leaves_the_record_alone(tmp_path):
    from netlab.model.objects import Cluster
    record = seed_cluster().to_dict()
    kept = copy.deepcopy(record)
    c = Cluster.from_dict(record)
    _apply(c, _manifests(tmp_path, OBJECTS))
    assert record == kept
