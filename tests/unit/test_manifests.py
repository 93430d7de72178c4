import textwrap

import pytest

from netlab.errors import ModelError
from netlab.model import manifests
from netlab.model.objects import EndpointAddress, EndpointPort, ServicePort
from netlab.model.seed import seed_cluster


def _load(tmp_path, text, name="m.yaml"):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text))
    return f, manifests.load(f)


def test_service_all_fields(tmp_path):
    _, [m] = _load(tmp_path, """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop, labels: {tier: front}}
        spec:
          type: LoadBalancer
          selector: {app: web}
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
          externalTrafficPolicy: Local
          externalIPs: [192.168.0.150]
          ports:
          - {name: http, port: 80, targetPort: http, nodePort: 30080}
          - {name: dns, port: 53, protocol: UDP}
        """)
    s = m.obj
    assert (m.kind, s.name, s.namespace, s.type) == ("Service", "web", "shop", "LoadBalancer")
    assert s.ports == [ServicePort(80, "http", "TCP", "http", 30080), ServicePort(53, "dns", "UDP", 53, None)]
    assert (s.selector, s.session_affinity, s.affinity_timeout) == ({"app": "web"}, "ClientIP", 60)
    assert (s.external_traffic_policy, s.external_ips, s.labels) == ("Local", ["192.168.0.150"], {"tier": "front"})
    assert m.warnings == []


def test_endpoints_deployment_pod_and_namespace(tmp_path):
    _, ms = _load(tmp_path, """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: mysql}
        subsets:
        - addresses: [{ip: 192.168.0.103}, {ip: 192.168.0.104}]
          ports: [{port: 3306, name: sql}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          replicas: 4
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: ignored
                command: [netlab-whoami]
                args: [--port, "8080"]
                ports: [{containerPort: 8080, name: http}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: tool, labels: {run: tool}}
        spec: {nodeName: node2, containers: [{name: t, command: [sleep, infinity]}]}
        """)
    assert [m.kind for m in ms] == ["Namespace", "Endpoints", "Deployment", "Pod"]
    ep, dep, pod = ms[1].obj, ms[2].obj, ms[3].obj
    assert ep.addresses == [EndpointAddress("192.168.0.103"), EndpointAddress("192.168.0.104")]
    assert ep.ports == [EndpointPort(3306, "sql")]
    assert (dep.replicas, dep.labels, dep.container_ports) == (4, {"app": "web"}, {"http": 8080})
    assert dep.command == ["netlab-whoami", "--port", "8080"]
    assert (pod.node, pod.labels, pod.command) == ("node2", {"run": "tool"}, ["sleep", "infinity"])


def test_unimplemented_fields_are_named_in_warnings(tmp_path):
    f, [m] = _load(tmp_path, """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {ports: [{port: 80, appProtocol: http}], ipFamilyPolicy: SingleStack}
        """)
    assert sorted(m.warnings) == [
        f"{f}: document 1: spec.ipFamilyPolicy is not implemented by netlab and was ignored",
        f"{f}: document 1: spec.ports[0].appProtocol is not implemented by netlab and was ignored"]


@pytest.mark.parametrize("text, error", [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: eighty}]}\n",
     "document 1: spec.ports[0].port: 'eighty' must be a int"),
    ("apiVersion: v1\nkind: Service\nspec: {}\n", "document 1: metadata: required field is missing"),
    ("apiVersion: v1\nkind: Secretive\nmetadata: {name: a}\n", "document 1: kind: v1 Secretive is not supported"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: b}}\n"
     "  template: {metadata: {labels: {app: a}}}\n",
     "document 1: spec.selector.matchLabels: does not match spec.template.metadata.labels"),
    ("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\n- a list\n", "document 2: must be a mapping"),
])
def test_errors_name_file_document_and_field(tmp_path, text, error):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ModelError) as e:
        manifests.load(f)
    assert str(e.value).startswith(f"{f}: {error}") and "\n" not in str(e.value)


def test_apply_keeps_a_services_cluster_ip_and_delete_reports_missing(tmp_path):
    c = seed_cluster()
    _, ms = _load(tmp_path, """
        apiVersion: v1
        kind: Service
        metadata: {name: data-product}
        spec: {selector: {app: data-product}, ports: [{name: data-product, port: 50051}]}
        """)
    manifests.apply_to(c, ms)
    svc = next(s for s in c.services if s.name == "data-product")
    assert svc.cluster_ip == "10.254.116.224" and len(c.services) == 6
    assert manifests.delete_from(c, ms) == []
    assert manifests.delete_from(c, ms) == ["Service default/data-product"]


def test_directory_of_manifests(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    (tmp_path / "b.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [m.obj for m in manifests.load(tmp_path)] == ["x", "y"]
