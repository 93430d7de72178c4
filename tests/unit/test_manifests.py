import dataclasses
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

import golden_files

from netlab.errors import ModelError
from netlab.model import manifests, store, topology
from netlab.model.objects import (
    Cluster, EndpointAddress, EndpointPort, EnvFrom, Ingress, IngressBackend, IngressPath, IngressRule, KeyRef, Pod,
    ServicePort,
)
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
    with pytest.raises(ModelError, match=f"^{re.escape(f'{f}: {error}')}") as e:
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
    store.apply(c, ms)
    svc = next(s for s in c.services if s.name == "data-product")
    assert svc.cluster_ip == "10.254.116.224" and len(c.services) == 6
    assert store.delete(c, ms) == []
    assert store.delete(c, ms) == ["Service default/data-product"]


def test_directory_of_manifests(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    (tmp_path / "b.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [m.obj.name for m in manifests.load(tmp_path)] == ["x", "y"]


# ---------------------------------------------------------------- golden model objects
# Each tests/unit/golden/manifests/<case>.yaml is read as `kubectl apply -f` reads it; <case>.json
# holds, per document, the kind, dataclasses.asdict of the model object and the warnings.
# Regenerate after a deliberate change with: NETLAB_UPDATE_GOLDEN=1 pytest tests/unit/test_manifests.py
# (then read the diff of the .json files before committing it).
GOLDEN = Path(__file__).parent / "golden" / "manifests"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


def _model(m: manifests.Manifest) -> dict:
    obj = m.obj if isinstance(m.obj, str) else dataclasses.asdict(m.obj)
    return {"kind": m.kind, "object": obj, "warnings": m.warnings}


@pytest.mark.parametrize("case", CASES)
def test_golden_model_objects(case, monkeypatch):
    monkeypatch.chdir(GOLDEN)            # warnings name the file as given: "<case>.yaml: document 1: ..."
    got = json.loads(json.dumps([_model(m) for m in manifests.load(f"{case}.yaml")]))
    expected = GOLDEN / f"{case}.json"
    if golden_files.updating():
        expected.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(expected.read_text())


def test_golden_cases_cover_every_kind_and_version():
    kinds = set()
    for case in CASES:
        for doc in yaml.safe_load_all((GOLDEN / f"{case}.yaml").read_text()):
            kinds.add((doc["apiVersion"], doc["kind"]))
    assert kinds >= {("v1", "Secret"), ("v1", "ConfigMap"), ("discovery.k8s.io/v1", "EndpointSlice"),
                     ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1beta1", "Ingress"),
                     ("extensions/v1beta1", "Ingress"), ("networking.k8s.io/v1", "IngressClass"),
                     ("apps/v1", "Deployment"), ("v1", "Pod")}


# SEED.md section 5, verbatim.
WALKTHROUGH_INGRESS = Path(__file__).parents[2] / "examples" / "walkthrough" / "ingress.yaml"


def test_the_walkthroughs_ingress_parses_as_written():
    [m] = manifests.load(WALKTHROUGH_INGRESS)
    assert (m.kind, m.key, m.warnings) == ("Ingress", ("Ingress", "ns-jo", "business-user"), [])
    assert m.obj == Ingress("business-user", "ns-jo", "nginx", {"kubernetes.io/ingress.class": "nginx"},
                            [IngressRule("business-user.ns-jo",
                                         [IngressPath("/", "ImplementationSpecific",
                                                      IngressBackend("business-user", 80))])])


def test_class_name_comes_from_the_field_then_the_annotation(tmp_path):
    base = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a%s}\n" \
           "spec: {%sdefaultBackend: {service: {name: web, port: {number: 80}}}}\n"
    _, ms = _load(tmp_path, "---\n".join([
        base % ("", "ingressClassName: nginx, "),
        base % (", annotations: {kubernetes.io/ingress.class: traefik}", ""),
        base % ("", ""),
        base % (", annotations: {kubernetes.io/ingress.class: nginx}", "ingressClassName: nginx, ")]))
    assert [m.obj.class_name for m in ms] == ["nginx", "traefik", None, "nginx"]


def test_secret_values_never_appear_in_errors(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: 'hunter2!'}\n")
    with pytest.raises(ModelError, match=r"s\.yaml: document 1: data\[password\]: the value is not valid base64") as e:
        manifests.load(f)
    assert "hunter2" not in str(e.value)


# ---------------------------------------------------------------- errors: one line, file, document, field, reason

def _doc(kind_api: str, body: str) -> str:
    api, kind = kind_api.split()
    return f"apiVersion: {api}\nkind: {kind}\n{textwrap.dedent(body)}"


def _pod(container: str = "", spec: str = "") -> str:
    return _doc("v1 Pod", f"metadata: {{name: p}}\nspec:\n{textwrap.indent(textwrap.dedent(spec), '  ')}"
                          f"  containers:\n  - name: c\n{textwrap.indent(textwrap.dedent(container), '    ')}")


def _ingress(rules: str = "", spec: str = "", api: str = "networking.k8s.io/v1", meta: str = "") -> str:
    return _doc(f"{api} Ingress", f"metadata: {{name: i{meta}}}\nspec:\n"
                                  f"{textwrap.indent(textwrap.dedent(spec), '  ')}"
                                  + (f"  rules:\n{textwrap.indent(textwrap.dedent(rules), '  ')}" if rules else ""))


def _path(path: str = "path: /", path_type: str = "pathType: Prefix",
          backend: str = "{service: {name: web, port: {number: 80}}}", host: str = "") -> str:
    return (f"- {host}http:\n    paths:\n    - {path}\n      {path_type}\n      backend: {backend}\n")


_PATH = "spec.rules[0].http.paths[0]"
_NGINX = "(netlab writes paths into nginx.conf, which it would break)"
_SUBDOMAIN = "is not a valid DNS-1123 subdomain (lower case letters, digits, '-' and '.', starting and ending " \
             "alphanumeric; '*.' may lead)"
_ERRORS = [
    # Secret
    (_doc("v1 Secret", "metadata: {name: s}\ndata: {password: 'bm90!!'}\n"),
     "data[password]: the value is not valid base64 (encode it, or give it in stringData)"),
    (_doc("v1 Secret", "metadata: {name: s}\ndata: {password: 42}\n"), "data[password]: must be a base64 string"),
    (_doc("v1 Secret", "metadata: {name: s}\nstringData: {'a b': x}\n"),
     "stringData[a b]: 'a b' is not a valid key (letters, digits, '-', '_' and '.')"),
    (_doc("v1 Secret", "metadata: {name: s}\ndata: {..x: YQ==}\n"),
     "data[..x]: '..x' must not be '.' or '..' or start with '..'"),
    (_doc("v1 Secret", "metadata: {name: s}\nstringData: {pin: 1234}\n"),
     "stringData[pin]: must be a string (quote the value)"),
    (_doc("v1 Secret", "metadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n"),
     "data[tls.key]: required field is missing (a kubernetes.io/tls Secret needs it)"),
    (_doc("v1 Secret", "metadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.key: YQ==}\n"),
     "data[tls.crt]: required field is missing (a kubernetes.io/tls Secret needs it)"),
    (_doc("v1 Secret", "metadata: {name: S}\n"),
     "metadata.name: 'S' is not a valid DNS-1123 subdomain (lower case letters, digits, '-' and '.', "
     "starting and ending alphanumeric)"),
    # ConfigMap
    (_doc("v1 ConfigMap", "metadata: {name: c}\ndata: {port: 8080}\n"), "data[port]: 8080 must be a str (quote it)"),
    (_doc("v1 ConfigMap", "metadata: {name: c}\ndata: {a/b: x}\n"),
     "data[a/b]: 'a/b' is not a valid key (letters, digits, '-', '_' and '.')"),
    # EndpointSlice
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e}\naddressType: IPv4\n"),
     "metadata.labels[kubernetes.io/service-name]: required field is missing (netlab gives a slice's endpoints "
     "to the Service it names)"),
    (_doc("discovery.k8s.io/v1 EndpointSlice",
          "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\naddressType: IPv6\n"),
     "addressType: 'IPv6' is not supported by netlab: the lab is IPv4 only"),
    (_doc("discovery.k8s.io/v1 EndpointSlice",
          "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\naddressType: FQDN\n"),
     "addressType: 'FQDN' is not supported by netlab: kube-proxy ignores FQDN slices (give IPv4)"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\n"),
     "addressType: required field is missing"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\n"
          "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1, 10.0.0.300]}]\n"),
     "endpoints[0].addresses[1]: '10.0.0.300' is not an IPv4 address"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\n"
          "addressType: IPv4\nendpoints: [{addresses: ['fd00::1']}]\n"),
     "endpoints[0].addresses[0]: 'fd00::1' is not an IPv4 address (the lab is IPv4 only)"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\n"
          "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1], targetRef: {kind: Node, name: n1}}]\n"),
     "endpoints[0].targetRef.kind: 'Node' is not supported by netlab (a targetRef names a Pod)"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: e, labels: {kubernetes.io/service-name: db}}\n"
          "addressType: IPv4\nports: [{port: 0}]\n"), "ports[0].port: 0 must be between 1 and 65535, inclusive"),
    # Ingress: paths
    (_ingress(_path(path_type="")), f"{_PATH}.pathType: required field is missing"),
    (_ingress(_path(path_type="pathType: Regex")),
     f"{_PATH}.pathType: 'Regex' is not one of Exact, Prefix, ImplementationSpecific"),
    (_ingress(_path(path="path: api")), f"{_PATH}.path: 'api' must be an absolute path (start with '/')"),
    (_ingress(_path(path="path: ''", path_type="pathType: Exact")),
     f"{_PATH}.path: '' must be an absolute path (start with '/')"),
    (_ingress(_path(path="path: /a;b")), f"{_PATH}.path: '/a;b' must not contain ';' {_NGINX}"),
    (_ingress(_path(path="path: '/a b'")), f"{_PATH}.path: '/a b' must not contain whitespace {_NGINX}"),
    (_ingress(_path(path="path: \"/a\\tb\"", path_type="pathType: ImplementationSpecific")),
     f"{_PATH}.path: '/a\\tb' must not contain whitespace {_NGINX}"),
    (_ingress(_path(path="path: '/a{b}'")), f"{_PATH}.path: '/a{{b}}' must not contain '{{' {_NGINX}"),
    (_ingress(_path(path="path: /a}")), f"{_PATH}.path: '/a}}' must not contain '}}' {_NGINX}"),
    (_ingress(_path(path="path: /$host")), f"{_PATH}.path: '/$host' must not contain '$' {_NGINX}"),
    (_ingress(_path(path="path: '/a#b'")), f"{_PATH}.path: '/a#b' must not contain '#' {_NGINX}"),
    (_ingress(_path(path="path: /a\\b")), f"{_PATH}.path: '/a\\\\b' must not contain '\\\\' {_NGINX}"),
    (_ingress(_path(path="path: '/a\"b'")), f"{_PATH}.path: '/a\"b' must not contain '\"' {_NGINX}"),
    (_ingress(_path(path="path: \"/a'b\"")), f"{_PATH}.path: \"/a'b\" must not contain \"'\" {_NGINX}"),
    (_ingress(_path(path="path: /a//b", path_type="pathType: Exact")), f"{_PATH}.path: '/a//b' must not contain '//'"),
    (_ingress(_path(path="path: /a/../b")), f"{_PATH}.path: '/a/../b' must not contain '/../'"),
    (_ingress(_path(path="path: /a/./b")), f"{_PATH}.path: '/a/./b' must not contain '/./'"),
    (_ingress(_path(path="path: /a%2Fb")), f"{_PATH}.path: '/a%2Fb' must not contain '%2F'"),
    (_ingress(_path(path="path: /a/..")), f"{_PATH}.path: '/a/..' cannot end with '/..'"),
    (_ingress(_path(path="path: /a/.", path_type="pathType: Exact")), f"{_PATH}.path: '/a/.' cannot end with '/.'"),
    # Ingress: hosts
    (_ingress(_path(host="host: 192.168.0.21\n  ")),
     "spec.rules[0].host: '192.168.0.21' must be a DNS name, not an IP address"),
    (_ingress(_path(host="host: 'shop.example.com:80'\n  ")),
     "spec.rules[0].host: 'shop.example.com:80' must be a DNS name without a port"),
    (_ingress(_path(host="host: Shop.example.com\n  ")), f"spec.rules[0].host: 'Shop.example.com' {_SUBDOMAIN}"),
    (_ingress(_path(host="host: shop_1.example.com\n  ")), f"spec.rules[0].host: 'shop_1.example.com' {_SUBDOMAIN}"),
    (_ingress(_path(host="host: 'shop.*.com'\n  ")),
     "spec.rules[0].host: 'shop.*.com': a wildcard must be the whole first label ('*.example.com')"),
    (_ingress(_path(host="host: '*.*.example.com'\n  ")),
     "spec.rules[0].host: '*.*.example.com': a wildcard must be the whole first label ('*.example.com')"),
    (_ingress(spec="defaultBackend: {service: {name: web, port: {number: 80}}}\n"
                   "tls: [{hosts: ['10.0.0.1'], secretName: t}]\n"),
     "spec.tls[0].hosts[0]: '10.0.0.1' must be a DNS name, not an IP address"),
    # Ingress: backends
    (_ingress(spec="defaultBackend: {resource: {apiGroup: k8s.example.com, kind: Bucket, name: b}}\n"),
     "spec.defaultBackend.resource: a resource backend is not supported by netlab (give a service)"),
    (_ingress(_path(backend="{service: {name: web, port: {number: 70000}}}")),
     f"{_PATH}.backend.service.port.number: 70000 must be between 1 and 65535, inclusive"),
    (_ingress(_path(backend="{service: {name: web, port: {number: 0}}}")),
     f"{_PATH}.backend.service.port.number: 0 must be between 1 and 65535, inclusive"),
    (_ingress(_path(backend="{service: {name: web, port: {number: 80, name: http}}}")),
     f"{_PATH}.backend.service.port: give port.number or port.name, not both"),
    (_ingress(_path(backend="{service: {name: web, port: {}}}")),
     f"{_PATH}.backend.service.port: port.number or port.name is required"),
    (_ingress(_path(backend="{service: {name: web, port: {name: HTTP}}}")),
     f"{_PATH}.backend.service.port.name: 'HTTP' is not a valid port name (at most 15 lower case letters, "
     "digits and '-', with at least one letter)"),
    (_ingress(_path(backend="{service: {name: 1web, port: {number: 80}}}")),
     f"{_PATH}.backend.service.name: '1web' is not a valid service name (a DNS-1035 label: lower case letters, "
     "digits and '-', starting with a letter)"),
    (_ingress(_path(backend="{serviceName: web}", path_type=""), api="extensions/v1beta1"),
     f"{_PATH}.backend.servicePort: required field is missing"),
    (_ingress(_path(backend="{serviceName: web, servicePort: 0}", path_type=""), api="networking.k8s.io/v1beta1"),
     f"{_PATH}.backend.servicePort: 0 must be between 1 and 65535, inclusive"),
    (_ingress(_path(backend="{serviceName: web, servicePort: true}", path_type=""), api="extensions/v1beta1"),
     f"{_PATH}.backend.servicePort: True must be a port number or a port name"),
    (_ingress(_path(backend="{serviceName: web, servicePort: '80'}", path_type=""), api="extensions/v1beta1"),
     f"{_PATH}.backend.servicePort: '80' is not a valid port name (at most 15 lower case letters, digits and '-', "
     "with at least one letter)"),
    (_ingress(spec="backend: {resource: {kind: Bucket, name: b}}\n", api="networking.k8s.io/v1beta1"),
     "spec.backend.resource: a resource backend is not supported by netlab (give a service)"),
    (_ingress(spec="tls: []\n"), "spec: either defaultBackend or rules must be given"),
    (_ingress(spec="tls: []\n", api="extensions/v1beta1"), "spec: either backend or rules must be given"),
    (_ingress(_path(), spec="ingressClassName: nginx\n", meta=", annotations: {kubernetes.io/ingress.class: traefik}"),
     "metadata.annotations[kubernetes.io/ingress.class]: 'traefik' must match spec.ingressClassName when both "
     "are given"),
    # IngressClass
    (_doc("networking.k8s.io/v1 IngressClass", "metadata: {name: nginx}\nspec: {}\n"),
     "spec.controller: required field is missing"),
    (_doc("networking.k8s.io/v1 IngressClass", "metadata: {name: nginx}\nspec: {controller: nginx}\n"),
     "spec.controller: 'nginx' must be a domain-prefixed path of at most 250 characters (such as "
     "k8s.io/ingress-nginx)"),
    (_doc("networking.k8s.io/v1 IngressClass", "metadata:\n  name: nginx\n  annotations:\n"
          "    ingressclass.kubernetes.io/is-default-class: true\nspec: {controller: k8s.io/ingress-nginx}\n"),
     "metadata.annotations[ingressclass.kubernetes.io/is-default-class]: True must be a str (quote it)"),
    # Pods: env
    (_pod("env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}]\n"),
     "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: 'metadata.uid' is not supported by netlab "
     "(supported: metadata.name, metadata.namespace, spec.nodeName, status.hostIP, status.podIP)"),
    (_pod("env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}, configMapKeyRef: {name: c, key: k}}}]\n"),
     "spec.containers[0].env[0].valueFrom: give one of secretKeyRef, configMapKeyRef or fieldRef, "
     "not secretKeyRef and configMapKeyRef"),
    (_pod("env: [{name: A, valueFrom: {}}]\n"),
     "spec.containers[0].env[0].valueFrom: must give one of secretKeyRef, configMapKeyRef or fieldRef"),
    (_pod("env: [{name: A, value: x, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n"),
     "spec.containers[0].env[0].valueFrom: may not be given when value is not empty"),
    (_pod("env: [{name: A, valueFrom: {secretKeyRef: {name: s}}}]\n"),
     "spec.containers[0].env[0].valueFrom.secretKeyRef.key: required field is missing"),
    (_pod("env: [{name: A, valueFrom: {configMapKeyRef: {key: k}}}]\n"),
     "spec.containers[0].env[0].valueFrom.configMapKeyRef.name: required field is missing"),
    (_pod("env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: 'a:b'}}}]\n"),
     "spec.containers[0].env[0].valueFrom.secretKeyRef.key: 'a:b' is not a valid key (letters, digits, '-', "
     "'_' and '.')"),
    (_pod("env: [{name: 1A, value: x}]\n"),
     "spec.containers[0].env[0].name: '1A' is not a valid environment variable name (letters, digits, '_', '-' "
     "and '.', not starting with a digit)"),
    (_pod("envFrom: [{prefix: X_}]\n"), "spec.containers[0].envFrom[0]: give one of configMapRef or secretRef"),
    (_pod("envFrom: [{secretRef: {name: s}, configMapRef: {name: c}}]\n"),
     "spec.containers[0].envFrom[0]: give one of configMapRef or secretRef, not both"),
    (_pod("envFrom: [{secretRef: {optional: true}}]\n"),
     "spec.containers[0].envFrom[0].secretRef.name: required field is missing"),
    # Pods: volumes
    (_pod("volumeMounts: [{name: data, mountPath: /data}]\n"),
     "spec.containers[0].volumeMounts[0].name: 'data' is not the name of a volume in spec.volumes"),
    (_pod("volumeMounts: [{name: s, mountPath: etc/s}]\n", "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].mountPath: 'etc/s' must be an absolute path"),
    (_pod("volumeMounts: [{name: s, mountPath: /}]\n", "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].mountPath: '/' must not be '/'"),
    (_pod("volumeMounts: [{name: s, mountPath: /etc/../}]\n", "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].mountPath: '/etc/../' must not be '/'"),
    (_pod("volumeMounts: [{name: s, mountPath: /etc/s/}]\n", "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].mountPath: '/etc/s/' must be a normalised path (no '.', '..', '//' or "
     "trailing '/')"),
    (_pod("volumeMounts: [{name: s, mountPath: /etc/./s}]\n", "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].mountPath: '/etc/./s' must be a normalised path (no '.', '..', '//' or "
     "trailing '/')"),
    (_pod("volumeMounts: [{name: s, mountPath: /a}, {name: s, mountPath: /a}]\n",
          "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[1].mountPath: '/a' is already used by spec.containers[0].volumeMounts[0]"),
    (_pod("volumeMounts: [{name: s, mountPath: /a, subPath: key}]\n",
          "volumes: [{name: s, secret: {secretName: s}}]\n"),
     "spec.containers[0].volumeMounts[0].subPath: not supported by netlab (mount the whole volume)"),
    (_pod(spec="volumes: [{name: s, secret: {}}]\n"), "spec.volumes[0].secret.secretName: required field is missing"),
    (_pod(spec="volumes: [{name: c, configMap: {optional: true}}]\n"),
     "spec.volumes[0].configMap.name: required field is missing"),
    (_pod(spec="volumes: [{name: s, secret: {secretName: s}}, {name: s, configMap: {name: c}}]\n"),
     "spec.volumes[1].name: 's' is already used by spec.volumes[0]"),
    (_pod(spec="volumes: [{name: s, secret: {secretName: s}, emptyDir: {}}]\n"),
     "spec.volumes[0]: may not give more than one volume type (secret, emptyDir)"),
    (_pod(spec="volumes: [{name: s}]\n"), "spec.volumes[0]: must give a volume type (secret or configMap)"),
    (_pod(spec="volumes: [{name: s, secret: {secretName: s, items: [{key: k, path: /etc/k}]}}]\n"),
     "spec.volumes[0].secret.items[0].path: '/etc/k' must be a relative path"),
    (_pod(spec="volumes: [{name: s, secret: {secretName: s, items: [{key: k, path: a/../../k}]}}]\n"),
     "spec.volumes[0].secret.items[0].path: 'a/../../k' must not contain '..'"),
    (_pod(spec="volumes: [{name: s, configMap: {name: c, items: [{key: k}]}}]\n"),
     "spec.volumes[0].configMap.items[0].path: required field is missing"),
    # Pods: terminationGracePeriodSeconds, a whole number of seconds, 0 or more
    (_pod(spec="terminationGracePeriodSeconds: -1\n"),
     "spec.terminationGracePeriodSeconds: -1 must be greater than or equal to 0"),
    (_pod(spec="terminationGracePeriodSeconds: '30'\n"), "spec.terminationGracePeriodSeconds: '30' must be a int"),
    (_pod(spec="terminationGracePeriodSeconds: 1.5\n"), "spec.terminationGracePeriodSeconds: 1.5 must be a int"),
    (_pod(spec="terminationGracePeriodSeconds: true\n"), "spec.terminationGracePeriodSeconds: True must be a int"),
    # Pods: runAsUser
    (_pod(spec="securityContext: {runAsUser: -1}\n"),
     "spec.securityContext.runAsUser: -1 must be between 0 and 2147483647, inclusive"),
    (_pod("securityContext: {runAsUser: root}\n"),
     "spec.containers[0].securityContext.runAsUser: 'root' must be a int"),
    # the same rules in a Deployment's pod template
    (_doc("apps/v1 Deployment", """\
        metadata: {name: d}
        spec:
          selector: {matchLabels: {app: d}}
          template:
            metadata: {labels: {app: d}}
            spec:
              containers:
              - name: c
                env: [{name: A, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}]
        """),
     "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: 'status.podIPs' is not supported "
     "by netlab (supported: metadata.name, metadata.namespace, spec.nodeName, status.hostIP, status.podIP)"),
    (_doc("apps/v1 Deployment", """\
        metadata: {name: d}
        spec:
          selector: {matchLabels: {app: d}}
          template:
            metadata: {labels: {app: d}}
            spec:
              containers: [{name: c, volumeMounts: [{name: v, mountPath: /v}]}]
        """),
     "spec.template.spec.containers[0].volumeMounts[0].name: 'v' is not the name of a volume in "
     "spec.template.spec.volumes"),
]


@pytest.mark.parametrize("text, error", _ERRORS, ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in enumerate(_ERRORS)])
def test_new_validation_errors_are_one_exact_line(tmp_path, text, error):
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: first}\n---\n" + text)
    with pytest.raises(ModelError, match=f"^{re.escape(f'{f}: document 2: {error}')}$"):
        manifests.load(f)


def test_a_file_with_one_invalid_document_gives_nothing(tmp_path, monkeypatch):
    f = tmp_path / "all.yaml"
    f.write_text(WALKTHROUGH_INGRESS.read_text() + "---\n" + _doc("v1 ConfigMap", "metadata: {name: ok}\n") + "---\n"
                 + _doc("v1 Secret", "metadata: {name: bad}\ndata: {k: '***'}\n"))
    (tmp_path / "z.yaml").write_text(_doc("v1 ConfigMap", "metadata: {name: later}\n"))
    parsed = []
    real = manifests.parse_document
    monkeypatch.setattr(manifests, "parse_document", lambda doc, where: parsed.append(where) or real(doc, where))
    c = seed_cluster()
    before = c.to_dict()
    with pytest.raises(ModelError, match=r"all\.yaml: document 3: data\[k\]: "):
        store.apply(c, manifests.load(tmp_path))      # a directory: every file is read first
    assert parsed == [f"{f}: document 1", f"{f}: document 2", f"{f}: document 3"]
    assert c.to_dict() == before


# ---------------------------------------------------------------- warnings

def test_warnings_name_what_netlab_ignores(tmp_path):
    f, ms = _load(tmp_path, """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        data: {a: b}
        binaryData: {b: YQ==}
        immutable: true
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          securityContext: {runAsUser: 5, runAsNonRoot: true}
          volumes:
          - {name: cache, emptyDir: {}}
          - {name: host, hostPath: {path: /etc}}
          - {name: unused, secret: {secretName: s, defaultMode: 0644}}
          containers:
          - name: c
            volumeMounts: [{name: cache, mountPath: /cache, mountPropagation: None}]
            env: [{name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}]
            securityContext: {privileged: true}
          - name: d
            command: [sleep]
            envFrom: [{secretRef: {name: s}}]
            securityContext: {runAsUser: 7}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx, namespace: default}
        spec: {controller: k8s.io/ingress-nginx, parameters: {kind: X, name: y}}
        """)
    here = f"{f}: document"
    assert ms[0].warnings == [f"{here} 1: binaryData is not implemented by netlab and was ignored",
                              f"{here} 1: immutable is not implemented by netlab and was ignored"]
    mode = "netlab always writes 0600 files in a 0700 directory owned by the pod's user"
    assert ms[1].warnings == [
        f"{here} 2: spec.volumes[0].emptyDir is not implemented by netlab and was ignored "
        "(netlab makes secret and configMap volumes only)",
        f"{here} 2: spec.volumes[1].hostPath is not implemented by netlab and was ignored "
        "(netlab makes secret and configMap volumes only)",
        f"{here} 2: spec.volumes[2].secret.defaultMode is not implemented by netlab and was ignored: {mode}",
        f"{here} 2: spec.securityContext.runAsNonRoot is not implemented by netlab and was ignored",
        f"{here} 2: spec.containers[0].volumeMounts[0].mountPropagation is not implemented by netlab and was ignored",
        f"{here} 2: spec.containers[0].volumeMounts[0] mounts volume 'cache' (emptyDir), which netlab does not "
        "implement; it was ignored",
        f"{here} 2: spec.containers[0].env[0].valueFrom.resourceFieldRef is not implemented by netlab and was ignored",
        f"{here} 2: spec.containers[0].securityContext.privileged is not implemented by netlab and was ignored",
        f"{here} 2: spec.containers[1].command: netlab runs the first container's command only",
        f"{here} 2: spec.containers[1].envFrom was ignored: netlab runs the first container only",
        f"{here} 2: spec.containers[1].securityContext was ignored: netlab runs the first container only",
        f"{here} 2: spec.volumes[2] is not mounted by the first container (the one netlab runs) and was ignored"]
    assert (ms[1].obj.run_as_user, ms[1].obj.volumes, ms[1].obj.env_refs) == (5, [], {})
    assert ms[2].warnings == [
        f"{here} 3: metadata.namespace was ignored: IngressClass is cluster-scoped",
        f"{here} 3: spec.parameters is not implemented by netlab and was ignored"]


def test_new_fields_are_no_longer_warned_about(tmp_path):
    for case in ("secret_tls", "secret_stringdata", "ingress_walkthrough", "ingress_networking_v1beta1"):
        assert manifests.load(GOLDEN / f"{case}.yaml")[0].warnings == []


def test_later_env_of_the_same_name_wins(tmp_path):
    _, [m] = _load(tmp_path, _pod("env:\n- {name: A, value: x}\n- {name: A, valueFrom: {fieldRef: "
                                  "{fieldPath: spec.nodeName}}}\n- {name: B, valueFrom: {fieldRef: "
                                  "{fieldPath: spec.nodeName}}}\n- {name: B, value: y}\n"))
    assert (m.obj.env, m.obj.env_refs) == ({"B": "y"}, {"A": KeyRef("Field", "", "spec.nodeName")})


# ---------------------------------------------------------------- the API server's store

def _apply(c, tmp_path, text, name="m.yaml"):
    _, ms = _load(tmp_path, text, name)
    store.apply(c, ms)
    return ms


def test_apply_creates_and_replaces_the_new_kinds_keeping_created(tmp_path):
    c = Cluster(namespaces=["shop", "ns-jo"])     # the golden files' namespaces
    ms = _apply(c, tmp_path, "\n---\n".join((GOLDEN / f"{k}.yaml").read_text() for k in (
        "secret_data", "configmap", "endpointslice", "ingress_v1", "ingressclass")))
    assert [len(x) for x in (c.secrets, c.config_maps, c.endpoint_slices, c.ingresses, c.ingress_classes)] == \
           [1, 1, 1, 1, 2]
    assert [m.key for m in ms][-2:] == [("IngressClass", "", "nginx"), ("IngressClass", "", "other")]
    for obj in (c.secrets[0], c.config_maps[0], c.ingresses[0]):
        obj.created = 123.0
    _apply(c, tmp_path, """
        apiVersion: v1
        kind: Secret
        metadata: {name: mysql}
        stringData: {password: new}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: web-config, namespace: shop}
        data: {MODE: prod}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop}
        spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx}
        spec: {controller: example.com/nginx}
        """, "again.yaml")
    assert [len(x) for x in (c.secrets, c.config_maps, c.ingresses, c.ingress_classes)] == [1, 1, 1, 2]
    assert c.secrets[0].data == {"password": "bmV3"} and c.secrets[0].created == 123.0
    assert c.config_maps[0].data == {"MODE": "prod"} and c.config_maps[0].created == 123.0
    assert c.ingresses[0].rules == [] and c.ingresses[0].created == 123.0
    assert [(k.name, k.controller, k.default) for k in c.ingress_classes] == [
        ("other", "example.com/other-controller", False), ("nginx", "example.com/nginx", False)]
    assert Cluster.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_a_secrets_type_cannot_change(tmp_path):
    c = Cluster()
    _apply(c, tmp_path, "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\nstringData: {a: b}\n")
    f, ms = _load(tmp_path, (GOLDEN / "secret_tls.yaml").read_text().replace("shop-tls", "t"), "tls.yaml")
    with pytest.raises(ModelError, match=r"document 1: type: field is immutable \('Opaque' in the cluster\)") as e:
        store.apply(c, ms)
    assert str(e.value) == (f"{f}: document 1: type: field is immutable ('Opaque' in the cluster); "
                            "delete the Secret to change its type")


def test_delete_the_new_kinds_and_report_missing(tmp_path):
    c = Cluster(namespaces=["shop", "ns-jo"])     # the golden files' namespaces
    text = "\n---\n".join((GOLDEN / f"{k}.yaml").read_text() for k in (
        "secret_tls", "configmap", "endpointslice", "ingress_walkthrough", "ingressclass"))
    ms = _apply(c, tmp_path, text)
    assert store.delete(c, ms) == []
    assert (c.secrets, c.config_maps, c.endpoint_slices, c.ingresses, c.ingress_classes) == ([], [], [], [], [])
    assert store.delete(c, ms) == [
        "Secret default/shop-tls", "ConfigMap shop/web-config", "EndpointSlice default/mysql-1",
        "Ingress ns-jo/business-user", "IngressClass /nginx", "IngressClass /other"]


def test_pods_and_deployments_compare_whole_specs(tmp_path):
    c = seed_cluster()
    pod = _pod("command: [sleep, infinity]\n", "nodeName: node1\n")
    _apply(c, tmp_path, pod)
    first = next(p for p in c.pods if p.name == "p")
    first.ip, first.created = "172.30.76.50", 5.0
    _apply(c, tmp_path, pod.replace("metadata: {name: p}", "metadata: {name: p, labels: {a: b}}"))
    same = next(p for p in c.pods if p.name == "p")
    assert same is first and same.labels == {"a": "b"}              # same spec: it keeps running
    _apply(c, tmp_path, pod.replace("nodeName: node1\n", "nodeName: node1\n  securityContext: {runAsUser: 7}\n"))
    changed = next(p for p in c.pods if p.name == "p")
    assert changed is not first and (changed.ip, changed.created, changed.run_as_user) == ("", 0.0, 7)

    dep = (GOLDEN / "deployment_env_volumes.yaml").read_text()
    _apply(c, tmp_path, dep)
    c.pods.append(Pod("data-product-x-1", "default", "node1", "172.30.76.60", {"app": "data-product"},
                      owner="data-product"))
    _apply(c, tmp_path, dep)                                          # same template: pods stay
    assert any(p.name == "data-product-x-1" for p in c.pods)
    _apply(c, tmp_path, dep.replace("secretName: mysql", "secretName: mysql-2"))
    assert not any(p.owner == "data-product" for p in c.pods)        # a new template: the old pods go


def test_topology_containers_give_env_refs_and_user():
    pod = {"name": "p", "containers": [{
        "name": "c", "command": ["x"], "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "envFrom": [{"configMapRef": {"name": "m"}}], "securityContext": {"runAsUser": 1000}}]}
    spec = manifests.containers(pod, "pods[0]")
    assert spec.template() == {"container_ports": {}, "command": ["x"], "image": "", "env": {},
                             "env_refs": {"P": KeyRef("Secret", "s", "k")}, "env_from": [EnvFrom("ConfigMap", "m")],
                             "volumes": [], "run_as_user": 1000, "cap_add": [], "cap_drop": [],
                             "termination_grace_period": 30}
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}], "pods": [pod]})
    assert c.pods[0].spec() == ({}, ["x"], "", {}, {"P": KeyRef("Secret", "s", "k")}, [EnvFrom("ConfigMap", "m")], [], 1000,
                                [], [], 30)
    with pytest.raises(ModelError, match=r"^pods\[0\]\.containers\[0\]\.securityContext\.privileged: unknown "
                                         r"field \(known: capabilities, runAsUser\)$"):
        manifests.containers({"containers": [{"securityContext": {"privileged": True}}]}, "pods[0]")
    with pytest.raises(ModelError, match=r"^pods\[0\]\.volumes\[0\]\.emptyDir: unknown field \(known: secret, configMap\)$"):
        manifests.containers({"volumes": [{"name": "v", "emptyDir": {}}], "containers": []}, "pods[0]")


@pytest.mark.parametrize("items, mount, message", [
    ([{"key": "a", "path": "."}], "/etc/v", "spec.volumes[0].secret.items[0].path: '.' must be a normalised relative"),
    ([{"key": "a", "path": "x/./y"}], "/etc/v", "spec.volumes[0].secret.items[0].path: 'x/./y' must be a normalised"),
    ([{"key": "a", "path": "x\0y"}], "/etc/v", "spec.volumes[0].secret.items[0].path: 'x\\x00y' must be a normalised"),
    ([{"key": "a", "path": "x"}, {"key": "b", "path": "x/y"}], "/etc/v",
     "spec.volumes[0].secret.items[1].path: 'x/y' clashes with the path 'x' of another item"),
    ([], "//etc/v", "spec.containers[0].volumeMounts[0].mountPath: '//etc/v' must be a normalised path"),
    ([], "/etc/v\0", "spec.containers[0].volumeMounts[0].mountPath: '/etc/v\\x00' must be a normalised path"),
])
def test_volume_paths_that_would_break_the_files_or_the_mount_are_refused(items, mount, message):
    secret = {"secretName": "s", **({"items": items} if items else {})}
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "v", "mountPath": mount}]}],
                    "volumes": [{"name": "v", "secret": secret}]}}
    with pytest.raises(ModelError, match=f"^{re.escape(f'f.yaml: document 1: {message}')}"):
        manifests.parse_document(doc, "f.yaml: document 1")


# ---------------------------------------------------------------- limits and defaults pinned down

def test_client_ip_affinity_without_a_timeout_sticks_for_three_hours(tmp_path):
    _, [m] = _load(tmp_path, """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {selector: {app: web}, sessionAffinity: ClientIP, ports: [{port: 80}]}
        """)
    assert (m.obj.session_affinity, m.obj.affinity_timeout) == ("ClientIP", 10800)
    _, [m] = _load(tmp_path, """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {selector: {app: web}, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {}},
               ports: [{port: 80}]}
        """)
    assert m.obj.affinity_timeout == 10800


@pytest.mark.parametrize("replicas", [0, 1])
def test_replicas_zero_and_more_are_taken(tmp_path, replicas):
    _, [m] = _load(tmp_path, f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec: {{replicas: {replicas}, template: {{metadata: {{labels: {{app: web}}}}}}}}
        """)
    assert m.obj.replicas == replicas


def test_the_grace_period_comes_from_the_pod_template_else_30_seconds(tmp_path):
    _, loaded = _load(tmp_path, """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            metadata: {labels: {app: web}}
            spec: {terminationGracePeriodSeconds: 1, containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec: {terminationGracePeriodSeconds: 0, containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: q}
        spec: {containers: [{name: c}]}
        """)
    assert [m.obj.termination_grace_period for m in loaded] == [1, 0, 30]
    assert all(not m.warnings for m in loaded)


def test_replicas_below_zero_are_refused(tmp_path):
    with pytest.raises(ModelError, match=r"m\.yaml: document 1: spec\.replicas: -1 must be >= 0$"):
        _load(tmp_path, """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec: {replicas: -1, template: {metadata: {labels: {app: web}}}}
            """)


MIB = 1024 * 1024


@pytest.mark.parametrize("kind,field", [("Secret", "stringData"), ("ConfigMap", "data")])
def test_a_secret_or_config_map_may_hold_1_mib_and_not_a_byte_more(tmp_path, kind, field):
    def doc(size):
        return f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: big}}\n{field}: {{a: {'x' * (size - 1)}, b: y}}\n"
    f = tmp_path / "m.yaml"
    f.write_text(doc(MIB))
    [m] = manifests.load(f)
    assert m.kind == kind
    f.write_text(doc(MIB + 1))
    with pytest.raises(ModelError, match=rf"m\.yaml: document 1: data: the {kind} holds 1048577 "
                                         rf"bytes, more than the 1048576 the API server allows$"):
        manifests.load(f)


def test_re_applying_a_load_balancer_keeps_its_address(tmp_path):
    text = """
        apiVersion: v1
        kind: Service
        metadata: {name: public}
        spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, nodePort: 30080}]}
        """
    c = seed_cluster()
    _, ms = _load(tmp_path, text)
    store.apply(c, ms)
    first = next(s for s in c.services if s.name == "public")
    first.cluster_ip, first.load_balancer_ip = "10.254.7.7", "192.168.0.201"       # what up/apply allocated
    _, ms = _load(tmp_path, text)
    store.apply(c, ms)
    again = next(s for s in c.services if s.name == "public")
    assert again is not first and (again.cluster_ip, again.load_balancer_ip) == ("10.254.7.7", "192.168.0.201")
    # an address the manifest gives wins over the one it had
    _, ms = _load(tmp_path, text.replace("type: LoadBalancer,", "type: LoadBalancer, loadBalancerIP: 192.168.0.210,"))
    store.apply(c, ms)
    assert next(s for s in c.services if s.name == "public").load_balancer_ip == "192.168.0.210"


# ---------------------------------------------------------------- bad input: one line naming file, field, value

def _endpoints(address: str, port: int = 80, key: str = "addresses") -> str:
    return _doc("v1 Endpoints", f"metadata: {{name: ext}}\nsubsets: [{{{key}: [{{ip: '{address}'}}], "
                                f"ports: [{{port: {port}}}]}}]\n")


def _deployment(container: str = "", spec: str = "", replicas: int = 1, namespace: str = "default") -> str:
    return _doc("apps/v1 Deployment", f"""\
        metadata: {{name: web, namespace: {namespace}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec: {{containers: [{{name: c{container}}}]{spec}}}
        """)


DNS = "(lower case letters, digits, '-', starting and ending alphanumeric)"
SUB = "(lower case letters, digits, '-' and '.', starting and ending alphanumeric)"
_SHARED = "netlab pods share the host's file system, and a volume there would hide what the kernel and netlab keep in"
_MOUNT = "spec.template.spec.containers[0].volumeMounts[0].mountPath"


def _mount(path: str) -> str:
    return _deployment(f", volumeMounts: [{{name: v, mountPath: '{path}'}}]", ", volumes: [{name: v, configMap: {name: c}}]")


# Each refused as the document is read: the first line of the file names the document.
_READ_ERRORS = [
    (_endpoints("999.1.1.1"), "subsets[0].addresses[0].ip: '999.1.1.1' is not an IPv4 address"),
    (_endpoints("hello"), "subsets[0].addresses[0].ip: 'hello' is not an IPv4 address"),
    (_endpoints("::1"), "subsets[0].addresses[0].ip: '::1' is not an IPv4 address (the lab is IPv4 only)"),
    (_endpoints("0.0.0.0"), "subsets[0].addresses[0].ip: 0.0.0.0 may not be unspecified (0.0.0.0)"),
    (_endpoints("127.0.0.1"), "subsets[0].addresses[0].ip: 127.0.0.1 may not be in the loopback range (127.0.0.0/8)"),
    (_endpoints("127.9.9.9", key="notReadyAddresses"),
     "subsets[0].notReadyAddresses[0].ip: 127.9.9.9 may not be in the loopback range (127.0.0.0/8)"),
    (_endpoints("169.254.169.254"),
     "subsets[0].addresses[0].ip: 169.254.169.254 may not be in the link-local range (169.254.0.0/16)"),
    (_endpoints("224.0.0.251"),
     "subsets[0].addresses[0].ip: 224.0.0.251 may not be in the link-local multicast range (224.0.0.0/24)"),
    (_endpoints("239.1.2.3"), "subsets[0].addresses[0].ip: 239.1.2.3 may not be in the multicast range "
                              "(224.0.0.0/4): a connection goes to one address"),
    (_endpoints("10.0.0.1", port=0), "subsets[0].ports[0].port: 0 must be between 1 and 65535, inclusive"),
    (_doc("discovery.k8s.io/v1 EndpointSlice", "metadata: {name: s, labels: {kubernetes.io/service-name: web}}\n"
          "addressType: IPv4\nendpoints: [{addresses: [127.0.0.1]}]\n"),
     "endpoints[0].addresses[0]: 127.0.0.1 may not be in the loopback range (127.0.0.0/8)"),
    (_deployment(", ports: [{containerPort: 0}]"),
     "spec.template.spec.containers[0].ports[0].containerPort: 0 must be between 1 and 65535, inclusive"),
    (_pod("ports: [{containerPort: 70000}]\n"), "spec.containers[0].ports[0].containerPort: 70000 must be between 1 "
                                                "and 65535, inclusive"),
    (_doc("v1 Namespace", "metadata: {name: Bad_NS}\n"),
     f"metadata.name: 'Bad_NS' is not a valid DNS-1123 label {DNS}"),
    (_deployment(namespace="Bad_NS"), f"metadata.namespace: 'Bad_NS' is not a valid DNS-1123 label {DNS}"),
    (_pod().replace("name: p}", "name: Bad_Pod}"), f"metadata.name: 'Bad_Pod' is not a valid DNS-1123 subdomain {SUB}"),
    (_deployment().replace("name: web,", "name: Web,"), f"metadata.name: 'Web' is not a valid DNS-1123 subdomain {SUB}"),
    (_doc("v1 Service", "metadata: {name: web_1}\nspec: {ports: [{port: 80}]}\n"),
     "metadata.name: 'web_1' is not a valid service name (a DNS-1035 label: lower case letters, digits and '-', "
     "starting with a letter)"),
    (_mount("/run/netns"), f"{_MOUNT}: '/run/netns' must not be /run/netns or under it: {_SHARED} /run/netns"),
    (_mount("/run/netns/x"), f"{_MOUNT}: '/run/netns/x' must not be /run/netns or under it: {_SHARED} /run/netns"),
    (_mount("/proc"), f"{_MOUNT}: '/proc' must not be /proc or under it: {_SHARED} /proc"),
    (_mount("/proc/sys/net"), f"{_MOUNT}: '/proc/sys/net' must not be /proc or under it: {_SHARED} /proc"),
    (_mount("/sys/fs"), f"{_MOUNT}: '/sys/fs' must not be /sys or under it: {_SHARED} /sys"),
    (_mount("/dev/shm"), f"{_MOUNT}: '/dev/shm' must not be /dev or under it: {_SHARED} /dev"),
    (_mount("/run/netlab/seed"), f"{_MOUNT}: '/run/netlab/seed' must not be /run/netlab or under it: "
                                 f"{_SHARED} /run/netlab"),
]


@pytest.mark.parametrize("text, error", _READ_ERRORS,
                         ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in enumerate(_READ_ERRORS)])
def test_bad_values_are_refused_as_read_naming_file_document_field_and_value(tmp_path, text, error):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ModelError, match=f"^{re.escape(f'{f}: document 1: {error}')}$"):
        manifests.load(f)


def test_only_the_shared_paths_and_what_is_under_them_are_refused(tmp_path):
    with pytest.raises(ModelError, match=r"mountPath: '/proc' must not be /proc or under it"):
        _load(tmp_path, _mount("/proc"))
    for path in ("/procfs", "/run/netlab-data", "/devices", "/run/net"):
        _, [m] = _load(tmp_path, _mount(path))
        assert m.obj.volumes[0].mount_path == path


def test_special_endpoint_addresses_are_the_same_refused_as_external_ips():
    from netlab.model import fields
    assert fields.endpoint_ip("10.0.0.1") is None and fields.endpoint_ip("192.168.0.103") is None
    assert fields.endpoint_ip("224.0.1.1").endswith("may not be in the multicast range (224.0.0.0/4): "
                                                    "a connection goes to one address")


# ---------------------------------------------------------------- checked against the cluster as stored

def _service(name: str = "web", spec: str = "ports: [{port: 80}]") -> str:
    return _doc("v1 Service", f"metadata: {{name: {name}}}\nspec: {{{spec}}}\n")


_ADMISSION_ERRORS = [
    (_deployment(namespace="foo"),
     'metadata.namespace: namespaces "foo" not found (apply a Namespace named foo first, or in the same apply)'),
    (_doc("v1 ConfigMap", "metadata: {name: c, namespace: foo}\n"),
     'metadata.namespace: namespaces "foo" not found (apply a Namespace named foo first, or in the same apply)'),
    (_deployment(replicas=1000000), "spec.replicas: 1000000 is more pods than the lab can hold: its 2 nodes' "
                                    "podCIDRs have 498 free addresses (netlab node add makes room)"),
    (_pod().replace("name: p}", "name: node1}"), "metadata.name: 'node1' is the name of a node of the lab: netlab "
     "exec node1 and netlab logs node1 would reach that, never the pod (choose another name)"),
    (_pod().replace("name: p}", "name: client}"), "metadata.name: 'client' is the name of an outside host of the "
     "lab: netlab exec client and netlab logs client would reach that, never the pod (choose another name)"),
    (_pod(spec="nodeName: node9\n"), "spec.nodeName: 'node9' is not a node of this cluster (nodes: node1, node2)"),
    (_service(spec="ports: [{port: 0}]"),
     "service default/web: spec.ports[0].port: 0 must be between 1 and 65535, inclusive"),
    (_service(spec="ports: [{port: 80, targetPort: 65536}]"),
     "service default/web: spec.ports[0].targetPort: 65536 must be between 1 and 65535, inclusive"),
    (_service(spec="type: Balanced, ports: [{port: 80}]"),
     "service default/web: spec.type: 'Balanced' is not one of ClusterIP, NodePort, LoadBalancer, ExternalName"),
    (_service(spec="externalIPs: [127.0.0.1], ports: [{port: 80}]"),
     "service default/web: spec.externalIPs[0]: 127.0.0.1 may not be in the loopback range (127.0.0.0/8)"),
    # the Service being applied is refused, naming the one that holds the value
    (_service("rs", "clusterIP: 10.254.0.2, ports: [{port: 80}]"),
     "service default/rs: spec.clusterIP: 10.254.0.2 is already allocated to service kube-system/kube-dns"),
    (_service("rs", "type: NodePort, ports: [{port: 80, nodePort: 30799}]"),
     "service default/rs: spec.ports[0].nodePort: 30799 is already allocated to service ingress-nginx/ingress-nginx"),
]


@pytest.mark.parametrize("text, error", _ADMISSION_ERRORS,
                         ids=[e.split(":")[0] + f"-{i}" for i, (_, e) in enumerate(_ADMISSION_ERRORS)])
def test_objects_the_cluster_refuses_name_file_document_field_and_value(tmp_path, text, error):
    f, ms = _load(tmp_path, _doc("v1 ConfigMap", "metadata: {name: fine}\n") + "---\n" + text)
    with pytest.raises(ModelError, match=f"^{re.escape(f'{f}: document 2: {error}')}$"):
        store.apply(seed_cluster(), ms)


def test_a_topology_files_manifests_are_checked_against_its_cluster_the_same_way(tmp_path):
    f, _ = _load(tmp_path, _pod(spec="nodeName: node9\n"))
    topo = tmp_path / "lab.yaml"
    topo.write_text(yaml.safe_dump({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}],
                                    "manifests": [str(f)]}))
    with pytest.raises(ModelError, match=f"^{re.escape(f'{f}: document 1: spec.nodeName: ')}'node9' is not a node "
                                         r"of this cluster \(nodes: n1\)$"):
        topology.load(topo)


def test_a_namespace_made_by_the_same_apply_or_an_earlier_one_exists(tmp_path):
    c = seed_cluster()
    namespace = _doc("v1 Namespace", "metadata: {name: foo}\n")
    _apply(c, tmp_path, _deployment(namespace="foo") + "---\n" + namespace)          # anywhere in the apply
    assert "foo" in c.namespaces and any(d.namespace == "foo" for d in c.deployments)
    c = seed_cluster()
    _apply(c, tmp_path, namespace, "ns.yaml")
    _apply(c, tmp_path, _doc("v1 ConfigMap", "metadata: {name: c, namespace: foo}\n"))
    assert Cluster.from_dict(json.loads(json.dumps(c.to_dict()))).namespaces == ["foo"]     # kept in the state
    store.delete(c, manifests.load(tmp_path / "ns.yaml"))
    assert c.namespaces == []


def test_namespaces_that_exist_always_or_by_use_need_no_namespace_object(tmp_path):
    c = seed_cluster()
    with pytest.raises(ModelError, match=r'metadata\.namespace: namespaces "kube-private" not found'):
        _apply(c, tmp_path, _doc("v1 ConfigMap", "metadata: {name: c, namespace: kube-private}\n"))
    for ns in ("default", "kube-system", "kube-public", "ingress-nginx"):      # ingress-nginx: the seed's objects
        _apply(c, tmp_path, _doc("v1 ConfigMap", f"metadata: {{name: c, namespace: {ns}}}\n"))
    assert {m.namespace for m in c.config_maps} == {"default", "kube-system", "kube-public", "ingress-nginx"}


def test_a_pod_whose_replicas_fit_with_the_others_is_taken(tmp_path):
    c = seed_cluster()
    free = 2 * 253 - len(c.pods)
    _apply(c, tmp_path, _deployment(replicas=free))
    assert next(d for d in c.deployments if d.name == "web").replicas == free
    with pytest.raises(ModelError, match=rf"spec\.replicas: {free + 1} is more pods than the lab can hold"):
        _apply(seed_cluster(), tmp_path, _deployment(replicas=free + 1))
