"""Kubernetes manifests field by field: each kind read whole (every field, every default), and
each field of the wrong type or missing refused with its whole path and reason."""
import copy
import re

import pytest

from netlab.errors import ModelError
from netlab.model import manifests
from netlab.model.objects import (
    Deployment, EndpointAddress, EndpointPort, Endpoints, EndpointSlice, Service, ServicePort,
)

WHERE = "f.yaml: document 1"


def _read(doc):
    return manifests.parse_document(copy.deepcopy(doc), WHERE).obj


def _refused(doc, message):
    with pytest.raises(ModelError, match="^" + re.escape(f"{WHERE}: {message}") + "$"):
        manifests.parse_document(copy.deepcopy(doc), WHERE)


def _edit(doc, path, value):
    """doc with the value at path ("spec.ports[0].name") replaced; value DELETE removes it."""
    doc = copy.deepcopy(doc)
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    obj = doc
    for p in parts[:-1]:
        obj = obj[int(p[1:-1])] if p.startswith("[") else obj[p]
    last = parts[-1]
    key = int(last[1:-1]) if last.startswith("[") else last
    if value is DELETE:
        del obj[key]
    else:
        obj[key] = value
    return doc


DELETE = object()


# ---- Service ------------------------------------------------------------------------------------

SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "front", "v": 2}},
           "spec": {"type": "NodePort", "clusterIP": "10.254.1.1", "selector": {"app": "web", "n": 1},
                    "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080},
                              {"name": "dns", "port": 53, "protocol": "UDP"}],
                    "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                    "externalTrafficPolicy": "Local", "externalIPs": ["192.168.0.9"],
                    "externalName": "x.example", "loadBalancerIP": "192.168.0.201"}}


def test_a_service_read_whole():
    assert _read(SERVICE) == Service(
        "web", "shop", type="NodePort", cluster_ip="10.254.1.1",
        ports=[ServicePort(80, "http", "TCP", "http", 30080), ServicePort(53, "dns", "UDP", 53, None)],
        selector={"app": "web", "n": "1"}, session_affinity="ClientIP", affinity_timeout=60,
        external_traffic_policy="Local", external_ips=["192.168.0.9"], external_name="x.example",
        load_balancer_ip="192.168.0.201", labels={"tier": "front", "v": "2"})


def test_a_services_defaults():
    assert _read({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                  "spec": {"ports": [{"port": 80}]}}) == Service(
        "web", "default", type="ClusterIP", cluster_ip=None, ports=[ServicePort(80, "", "TCP", 80, None)],
        selector=None, session_affinity="None", affinity_timeout=10800, external_traffic_policy="Cluster",
        external_ips=[], external_name=None, load_balancer_ip=None, labels={})
    assert _read({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}}).ports == []
    assert _read({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                  "spec": {"selector": {}}}).selector is None


SERVICE_ERRORS = [
    ("metadata", DELETE, "metadata: required field is missing"),
    ("metadata.name", DELETE, "metadata.name: required field is missing"),
    ("metadata.namespace", 1, "metadata.namespace: 1 must be a str"),
    ("metadata.labels", [], "metadata.labels: [] must be a dict"),
    ("spec.type", 1, "spec.type: 1 must be a str"),
    ("spec.clusterIP", 1, "spec.clusterIP: 1 must be a str"),
    ("spec.selector", "app", "spec.selector: 'app' must be a dict"),
    ("spec.ports", "80", "spec.ports: '80' must be a list"),
    ("spec.ports[1]", "53", "spec.ports[1]: must be a mapping"),
    ("spec.ports[1].port", DELETE, "spec.ports[1].port: required field is missing"),
    ("spec.ports[1].port", "53", "spec.ports[1].port: '53' must be a int"),
    ("spec.ports[1].name", 1, "spec.ports[1].name: 1 must be a str"),
    ("spec.ports[1].protocol", 1, "spec.ports[1].protocol: 1 must be a str"),
    ("spec.ports[1].targetPort", [53], "spec.ports[1].targetPort: [53] must be a int or str"),
    ("spec.ports[1].nodePort", "x", "spec.ports[1].nodePort: 'x' must be a int"),
    ("spec.sessionAffinity", 1, "spec.sessionAffinity: 1 must be a str"),
    ("spec.sessionAffinityConfig", 1, "spec.sessionAffinityConfig: 1 must be a dict"),
    ("spec.sessionAffinityConfig.clientIP", 1, "spec.sessionAffinityConfig.clientIP: 1 must be a dict"),
    ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "60",
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds: '60' must be a int"),
    ("spec.externalTrafficPolicy", 1, "spec.externalTrafficPolicy: 1 must be a str"),
    ("spec.externalIPs", "192.168.0.9", "spec.externalIPs: '192.168.0.9' must be a list"),
    ("spec.externalName", 1, "spec.externalName: 1 must be a str"),
    ("spec.loadBalancerIP", 1, "spec.loadBalancerIP: 1 must be a str"),
]


@pytest.mark.parametrize("path,value,message", SERVICE_ERRORS, ids=[e[0] for e in SERVICE_ERRORS])
def test_service_fields_refused(path, value, message):
    _refused(_edit(SERVICE, path, value), message)


# ---- Endpoints ----------------------------------------------------------------------------------

ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db", "namespace": "shop"},
             "subsets": [{"addresses": [{"ip": "192.168.0.103", "nodeName": "n1", "hostname": "db-0"},
                                        {"ip": "192.168.0.104"}],
                          "notReadyAddresses": [{"ip": "192.168.0.105"}],
                          "ports": [{"name": "sql", "port": 3306, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
                         {"addresses": [{"ip": "192.168.0.106"}],
                          "ports": [{"name": "sql", "port": 3306}, {"port": 53, "protocol": "UDP"}]}]}


def test_endpoints_read_whole():
    assert _read(ENDPOINTS) == Endpoints("db", "shop", [
        EndpointAddress("192.168.0.103", node="n1", hostname="db-0"), EndpointAddress("192.168.0.104"),
        EndpointAddress("192.168.0.105", ready=False), EndpointAddress("192.168.0.106")],
        [EndpointPort(3306, "sql", "TCP"), EndpointPort(53, "", "UDP")])
    assert _read({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db"}}) == Endpoints("db", "default")
    assert _read({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db"},
                  "subsets": [{"addresses": [{"ip": "192.168.0.103"}]}]}).ports == []


ENDPOINTS_ERRORS = [
    ("subsets", {}, "subsets: {} must be a list"),
    ("subsets[0].ports", "3306", "subsets[0].ports: '3306' must be a list"),
    ("subsets[0].ports[0].port", DELETE, "subsets[0].ports[0].port: required field is missing"),
    ("subsets[0].ports[0].port", "3306", "subsets[0].ports[0].port: '3306' must be a int"),
    ("subsets[0].ports[0].name", 1, "subsets[0].ports[0].name: 1 must be a str"),
    ("subsets[0].ports[0].protocol", 1, "subsets[0].ports[0].protocol: 1 must be a str"),
    ("subsets[1].ports[0].port", 3307,
     "subsets[1].ports: netlab keeps one set of ports per Endpoints; give every subset the same ports"),
    ("subsets[0].addresses", "x", "subsets[0].addresses: 'x' must be a list"),
    ("subsets[0].addresses[1].ip", DELETE, "subsets[0].addresses[1].ip: required field is missing"),
    ("subsets[0].addresses[1].ip", 1, "subsets[0].addresses[1].ip: 1 must be a str"),
    ("subsets[0].addresses[0].nodeName", 1, "subsets[0].addresses[0].nodeName: 1 must be a str"),
    ("subsets[0].addresses[0].hostname", 1, "subsets[0].addresses[0].hostname: 1 must be a str"),
    ("subsets[0].notReadyAddresses", "x", "subsets[0].notReadyAddresses: 'x' must be a list"),
    ("subsets[0].notReadyAddresses[0].ip", DELETE, "subsets[0].notReadyAddresses[0].ip: required field is missing"),
    ("subsets[0].notReadyAddresses[0].ip", 1, "subsets[0].notReadyAddresses[0].ip: 1 must be a str"),
]


@pytest.mark.parametrize("path,value,message", ENDPOINTS_ERRORS, ids=[e[0] for e in ENDPOINTS_ERRORS])
def test_endpoints_fields_refused(path, value, message):
    _refused(_edit(ENDPOINTS, path, value), message)


# ---- Deployment ---------------------------------------------------------------------------------

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}


def test_a_deployment_read_whole():
    dep = _read(DEPLOYMENT)
    assert isinstance(dep, Deployment)
    assert (dep.name, dep.namespace, dep.replicas, dep.labels, dep.image) == (
        "web", "shop", 3, {"app": "web", "tier": "front"}, "nginx:1.25")
    bare = _read({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
                  "spec": {"template": {}}})
    assert (bare.name, bare.namespace, bare.replicas, bare.labels) == ("api", "default", 1, {"app": "api"})


DEPLOYMENT_ERRORS = [
    ("spec", DELETE, "spec: required field is missing"),
    ("spec", [], "spec: [] must be a dict"),
    ("spec.template", DELETE, "spec.template: required field is missing"),
    ("spec.template.metadata", 1, "spec.template.metadata: 1 must be a dict"),
    ("spec.template.metadata.labels", 1, "spec.template.metadata.labels: 1 must be a dict"),
    ("spec.selector", 1, "spec.selector: 1 must be a dict"),
    ("spec.selector.matchLabels", 1, "spec.selector.matchLabels: 1 must be a dict"),
    ("spec.selector.matchLabels", {"app": "api"}, "spec.selector.matchLabels: does not match "
                                                  "spec.template.metadata.labels"),
    ("spec.template.spec", 1, "spec.template.spec: 1 must be a dict"),
    ("spec.replicas", "3", "spec.replicas: '3' must be a int"),
    ("spec.replicas", -2, "spec.replicas: -2 must be >= 0"),
]


@pytest.mark.parametrize("path,value,message", DEPLOYMENT_ERRORS, ids=[e[0] + str(i) for i, e in
                                                                       enumerate(DEPLOYMENT_ERRORS)])
def test_deployment_fields_refused(path, value, message):
    _refused(_edit(DEPLOYMENT, path, value), message)


# ---- EndpointSlice ------------------------------------------------------------------------------

SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "db-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "db"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": ["192.168.0.103"], "conditions": {"ready": False}, "hostname": "db-0",
                        "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "db-0"}},
                       {"addresses": ["192.168.0.104"]}],
         "ports": [{"name": "sql", "port": 3306, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}


def test_an_endpoint_slice_read_whole():
    assert _read(SLICE) == EndpointSlice("db-1", "shop", "db", [
        EndpointAddress("192.168.0.103", node="n1", pod="db-0", ready=False, hostname="db-0"),
        EndpointAddress("192.168.0.104", node=None, pod=None, ready=True, hostname=None)],
        [EndpointPort(3306, "sql", "TCP"), EndpointPort(53, "", "UDP")])
    assert _read(_edit(SLICE, "endpoints[0].targetRef", {"name": "db-0"})).addresses[0].pod == "db-0"


DNS_LABEL = "is not a valid DNS-1123 label (lower case letters, digits, '-', starting and ending alphanumeric)"
SLICE_ERRORS = [
    ("metadata.labels", {}, "metadata.labels[kubernetes.io/service-name]: required field is missing (netlab gives "
                            "a slice's endpoints to the Service it names)"),
    ("metadata.labels", {"kubernetes.io/service-name": "Db"},
     "metadata.labels[kubernetes.io/service-name]: 'Db' is not a valid service name (a DNS-1035 label: lower case "
     "letters, digits and '-', starting with a letter)"),
    ("addressType", DELETE, "addressType: required field is missing"),
    ("addressType", "IPv6", "addressType: 'IPv6' is not supported by netlab: the lab is IPv4 only"),
    ("addressType", "FQDN", "addressType: 'FQDN' is not supported by netlab: kube-proxy ignores FQDN slices "
                            "(give IPv4)"),
    ("addressType", "ipv4", "addressType: 'ipv4' is not one of IPv4, IPv6, FQDN"),
    ("endpoints[1]", "192.168.0.104", "endpoints[1]: must be a mapping"),
    ("endpoints[1].addresses", DELETE, "endpoints[1].addresses: required field is missing"),
    ("endpoints[1].addresses", [], "endpoints[1].addresses: must have at least one address"),
    ("endpoints[1].addresses", ["192.168.0.104", "10.0.0.300"],
     "endpoints[1].addresses[1]: '10.0.0.300' is not an IPv4 address"),
    ("endpoints[1].addresses", [7], "endpoints[1].addresses[0]: 7 is not an IPv4 address"),
    ("endpoints[0].conditions", 1, "endpoints[0].conditions: 1 must be a dict"),
    ("endpoints[0].conditions.ready", "no", "endpoints[0].conditions.ready: 'no' must be a bool"),
    ("endpoints[0].hostname", "Db-0", f"endpoints[0].hostname: 'Db-0' {DNS_LABEL}"),
    ("endpoints[0].hostname", 1, "endpoints[0].hostname: 1 must be a str"),
    ("endpoints[0].nodeName", 1, "endpoints[0].nodeName: 1 must be a str"),
    ("endpoints[0].targetRef", 1, "endpoints[0].targetRef: 1 must be a dict"),
    ("endpoints[0].targetRef.kind", "Node",
     "endpoints[0].targetRef.kind: 'Node' is not supported by netlab (a targetRef names a Pod)"),
    ("endpoints[0].targetRef.name", 1, "endpoints[0].targetRef.name: 1 must be a str"),
    ("ports[1]", 53, "ports[1]: must be a mapping"),
    ("ports[1].port", DELETE, "ports[1].port: required field is missing"),
    ("ports[1].port", 0, "ports[1].port: 0 must be between 1 and 65535, inclusive"),
    ("ports[1].protocol", "ICMP", "ports[1].protocol: 'ICMP' is not one of TCP, UDP, SCTP"),
    ("ports[1].protocol", 1, "ports[1].protocol: 1 must be a str"),
    ("ports[1].name", 1, "ports[1].name: 1 must be a str"),
]


@pytest.mark.parametrize("path,value,message", SLICE_ERRORS, ids=[e[0] + str(i) for i, e in enumerate(SLICE_ERRORS)])
def test_endpoint_slice_fields_refused(path, value, message):
    _refused(_edit(SLICE, path, value), message)
