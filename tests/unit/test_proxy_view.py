"""What every proxier flavour reads: Services and EndpointSlices as kube-proxy receives them
(netlab render kube-proxy), and the lab's own cluster (netlab.kube_proxy.view)."""
import pytest

from netlab.errors import ModelError
from netlab.kube_proxy import view
from netlab.model import services
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster, Node, Service, ServicePort
from netlab.model.seed import seed_cluster


def svc(name="web", spec=None, status=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"clusterIP": "10.0.0.10", "ports": [{"name": "http", "port": 80}], **(spec or {})},
            **({"status": status} if status else {})}


def eps(service="web", endpoints=(), ports=({"name": "http", "port": 8080},), name=None):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name or f"{service}-abc", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": service}},
            "ports": list(ports), "endpoints": list(endpoints)}


def ep(ip, node="n1", **conditions):
    return {"addresses": [ip], "nodeName": node, **({"conditions": conditions} if conditions else {})}


def objects(*docs):
    return [(f"m.yaml: document {i}", d) for i, d in enumerate(docs, 1)]


def test_a_service_port_gets_the_endpoints_of_its_port_name_sorted_as_text_from_every_slice():
    ports = view.from_objects(objects(
        svc(), eps(endpoints=[ep("10.1.0.9"), ep("10.1.0.10", "n2")], name="a"),
        eps(endpoints=[ep("10.1.0.2", ready=False)], name="b"),
        eps(endpoints=[ep("10.1.0.3")], ports=[{"name": "other", "port": 9}], name="c")))
    [p] = ports
    assert (p.service_port_name, p.proto, p.port, p.cluster_ip) == ("shop/web:http", "tcp", 80, "10.0.0.10")
    assert [(e.ip, e.port, e.node, e.ready, e.serving) for e in p.endpoints] == [
        ("10.1.0.10", 8080, "n2", True, True), ("10.1.0.2", 8080, "n1", False, False),
        ("10.1.0.9", 8080, "n1", True, True)]


def test_unset_conditions_are_read_as_kube_proxy_reads_them():
    [p] = view.from_objects(objects(svc(), eps(endpoints=[
        ep("10.1.0.1"), ep("10.1.0.2", ready=False, serving=True, terminating=True)])))
    assert [(e.ready, e.serving, e.terminating) for e in p.endpoints] == [(True, True, False), (False, True, True)]


def test_nothing_is_defaulted_or_allocated():
    """A NodePort service without nodePort has none; LB addresses are the status's, not the spec's."""
    ports = view.from_objects(objects(
        svc("np", {"type": "NodePort"}),
        svc("lb", {"type": "LoadBalancer", "loadBalancerIP": "1.2.3.4", "externalTrafficPolicy": "Local",
                   "healthCheckNodePort": 31000, "loadBalancerSourceRanges": ["5.6.0.0/16"],
                   "sessionAffinity": "ClientIP"},
            {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example"}]}}),
        svc("bare", {"externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
                     "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}})))
    np, lb, bare = ports
    assert (np.type, np.node_port, np.load_balancer_ips) == ("NodePort", 0, ())
    assert (lb.load_balancer_ips, lb.source_ranges, lb.health_check_node_port) == (("9.9.9.9",), ("5.6.0.0/16",), 31000)
    assert (lb.external_policy_local, lb.affinity_seconds) == (True, 10800)
    # Local means nothing for a ClusterIP service without external IPs
    assert (bare.external_policy_local, bare.affinity_seconds) == (False, 60)


def test_headless_externalname_and_other_kinds_are_skipped_and_a_list_counts():
    listed = {"kind": "List", "items": [svc("a"), svc("b", {"clusterIP": "None"}),
                                         svc("c", {"type": "ExternalName", "externalName": "x.example"})]}
    ports = view.from_objects(objects({"kind": "ConfigMap", "metadata": {"name": "x"}}, listed))
    assert [p.name for p in ports] == ["a"]


@pytest.mark.parametrize("doc, message", [
    (svc(spec={"ports": [{"name": "http", "port": "80"}]}), r"m.yaml: document 1 \(Service\): spec.ports\[0\].port"),
    (svc(spec={"externalIPs": "1.2.3.4"}), r"document 1 \(Service\): externalIPs: '1.2.3.4' is not a list"),
    ({**eps(), "metadata": {"name": "s", "namespace": "shop"}},
     r"document 1 \(EndpointSlice\): metadata.labels: kubernetes.io/service-name missing"),
    (eps(endpoints=[{"addresses": []}]), r"document 1 \(EndpointSlice\): endpoints\[0\].addresses: empty"),
    ({"kind": "Service", "metadata": {}}, r"document 1 \(Service\): metadata.name: missing"),
])
def test_a_bad_document_is_one_line_naming_document_and_field(doc, message):
    with pytest.raises(ModelError, match=message):
        view.from_objects(objects(doc))


def test_the_seed_cluster_as_todays_kube_proxy_sees_it():
    c = seed_cluster()
    c.endpoints = derive_endpoints(c)
    ports = {p.service_port_name: p for p in view.from_cluster(c)}
    dp = ports["default/data-product:data-product"]
    assert (dp.cluster_ip, dp.port, dp.proto) == ("10.254.116.224", 50051, "tcp")
    assert sorted(e.ip for e in dp.endpoints) == sorted(p.ip for p in c.pods if p.name.startswith("data-product"))
    assert {e.node for e in dp.endpoints} == {"node1", "node2"}
    assert ports["default/kubernetes:https"].endpoints[0].ip == "192.168.0.21"
    assert [n.name for n in view.node_configs(c)] == ["node1", "node2"]
    assert view.node_configs(c)[1].ips == ("192.168.0.22",) and view.node_configs(c)[1].local_cidr == "172.30.0.0/16"


def _lab_with(*svcs):
    c = Cluster(nodes=[Node("n1", "192.168.0.21", "172.30.1.0/24")], services=list(svcs))
    services.admit_all(c)
    return c


def test_a_local_load_balancer_is_given_a_health_check_node_port_and_keeps_a_stated_one():
    c = _lab_with(Service("a", "default", "LoadBalancer", ports=[ServicePort(80)], external_traffic_policy="Local"),
                  Service("b", "default", "LoadBalancer", ports=[ServicePort(80)], external_traffic_policy="Local",
                          health_check_node_port=32123),
                  Service("c", "default", "LoadBalancer", ports=[ServicePort(80)]))
    a, b, cl = c.services
    assert a.health_check_node_port in services.NODE_PORTS and a.health_check_node_port != a.ports[0].node_port
    assert (b.health_check_node_port, cl.health_check_node_port) == (32123, None)


@pytest.mark.parametrize("changes, message", [
    ({"health_check_node_port": 32000}, "spec.healthCheckNodePort: may only be set for type LoadBalancer"),
    ({"type": "LoadBalancer", "external_traffic_policy": "Local", "health_check_node_port": 80},
     "spec.healthCheckNodePort: 80 is outside the NodePort range"),
    ({"internal_traffic_policy": "Nearby"}, r"spec.internalTrafficPolicy: 'Nearby' is not one of Cluster, Local"),
    ({"load_balancer_source_ranges": ["10.0.0.0/33"]}, r"spec.loadBalancerSourceRanges\[0\]: '10.0.0.0/33'"),
])
def test_the_new_service_fields_are_checked(changes, message):
    with pytest.raises(ModelError, match=message):
        _lab_with(Service("a", "default", ports=[ServicePort(80)], **{"type": "NodePort", **changes}))


def test_a_health_check_port_taken_by_another_service_is_refused():
    with pytest.raises(ModelError, match="spec.healthCheckNodePort: 30080 is already allocated to service default/a"):
        _lab_with(Service("a", "default", "NodePort", ports=[ServicePort(80, node_port=30080)]),
                  Service("b", "default", "LoadBalancer", ports=[ServicePort(80)], external_traffic_policy="Local",
                          health_check_node_port=30080))
