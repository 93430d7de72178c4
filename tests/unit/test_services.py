"""Service admission: one test per validation rule, and ClusterIP/NodePort allocation."""
import re
from ipaddress import ip_address, ip_network

import pytest

from netlab.errors import ModelError
from netlab.model import services
from netlab.model.objects import Cluster, Node, Pod, Service, ServicePort
from netlab.model.seed import seed_cluster


def cluster(*svcs: Service, pods=()) -> Cluster:
    c = Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24")])
    c.services = list(svcs)
    c.pods = list(pods)
    return c


def svc(name="web", **kw) -> Service:
    kw.setdefault("cluster_ip", "10.254.1.1")
    kw.setdefault("ports", [ServicePort(80, "http", "TCP", 8080)])
    return Service(name, kw.pop("namespace", "default"), **kw)


def rejects(c: Cluster, s: Service, field: str, *words: str) -> str:
    """Validation fails with one line naming the service and the field (and the words)."""
    with pytest.raises(ModelError, match=f"^service {re.escape(f'{s.namespace}/{s.name}: {field}: ')}") as e:
        services.validate_service(c, s)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"service {s.namespace}/{s.name}: {field}: "), msg
    for w in words:
        assert w in msg, msg
    return msg


# --- the seed is valid --------------------------------------------------------------

def test_seed_services_are_valid():
    services.validate_services(seed_cluster())


# --- metadata and type ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["Web", "1web", "web_1", "", "a" * 64])
def test_name_must_be_dns1035_label(name):
    s = svc(name)
    rejects(cluster(s), s, "metadata.name", repr(name))


def test_namespace_must_be_dns1123_label():
    s = svc(namespace="Prod")
    rejects(cluster(s), s, "metadata.namespace", "'Prod'")


def test_duplicate_service_name_in_namespace():
    c = cluster(svc(cluster_ip="10.254.1.1"), svc(cluster_ip="10.254.1.2"))
    with pytest.raises(ModelError, match=r"^service default/web: metadata.name: 'web' is already used"):
        services.validate_services(c)


def test_same_name_in_two_namespaces_is_fine():
    services.validate_services(cluster(svc(cluster_ip="10.254.1.1"),
                                       svc(namespace="prod", cluster_ip="10.254.1.2")))


def test_type_must_be_known():
    s = svc(type="Ingress")
    rejects(cluster(s), s, "spec.type", "'Ingress'", "ClusterIP", "ExternalName")


def test_external_name_is_required_for_type_external_name():
    s = Service("alias", "default", type="ExternalName")
    rejects(cluster(s), s, "spec.externalName", "None", "required")


def test_external_name_takes_no_cluster_ip():
    s = Service("alias", "default", type="ExternalName", external_name="db.example.com", cluster_ip="10.254.1.1")
    rejects(cluster(s), s, "spec.clusterIP", "10.254.1.1", "empty")


def test_external_name_service_is_valid_without_ports():
    services.validate_service(cluster(), Service("alias", "default", type="ExternalName",
                                                 external_name="db.example.com"))


# --- cluster IP ----------------------------------------------------------------------------

def test_cluster_ip_must_be_an_address():
    s = svc(cluster_ip="10.254.1")
    rejects(cluster(s), s, "spec.clusterIP", "'10.254.1'", "not an IPv4 address")


def test_cluster_ip_must_be_in_the_service_range():
    s = svc(cluster_ip="10.255.0.5")
    rejects(cluster(s), s, "spec.clusterIP", "10.255.0.5", "outside the service range 10.254.0.0/16")


@pytest.mark.parametrize("ip", ["10.254.0.0", "10.254.255.255"])
def test_cluster_ip_may_not_be_network_or_broadcast(ip):
    s = svc(cluster_ip=ip)
    rejects(cluster(s), s, "spec.clusterIP", ip, "network or broadcast")


def test_cluster_ip_may_not_be_taken():
    other = svc("api", cluster_ip="10.254.1.1")
    s = svc(cluster_ip="10.254.1.1")
    rejects(cluster(other, s), s, "spec.clusterIP", "10.254.1.1", "already allocated to service default/api")


def test_headless_is_not_for_node_ports():
    s = svc(type="NodePort", cluster_ip="None")
    rejects(cluster(s), s, "spec.clusterIP", "'None'", "NodePort")


def test_headless_service_without_ports_is_valid():
    services.validate_service(cluster(), svc(cluster_ip="None", ports=[], selector={"app": "x"}))


# --- ports --------------------------------------------------------------------------------

def test_a_service_needs_a_port():
    s = svc(ports=[])
    rejects(cluster(s), s, "spec.ports", "at least one port")


def test_port_name_must_be_a_dns_label():
    s = svc(ports=[ServicePort(80, "Http")])
    rejects(cluster(s), s, "spec.ports[0].name", "'Http'")


def test_port_names_are_required_with_several_ports():
    s = svc(ports=[ServicePort(80, "http"), ServicePort(443, "")])
    rejects(cluster(s), s, "spec.ports[1].name", "required", "more than one port")


def test_port_names_must_be_unique():
    s = svc(ports=[ServicePort(80, "web"), ServicePort(443, "web")])
    rejects(cluster(s), s, "spec.ports[1].name", "'web'", "spec.ports[0]")


def test_protocol_must_be_known():
    s = svc(ports=[ServicePort(80, "http", "tcp")])
    rejects(cluster(s), s, "spec.ports[0].protocol", "'tcp'", "TCP, UDP, SCTP")


@pytest.mark.parametrize("port", [0, 65536, True, "80"])
def test_port_must_be_a_port_number(port):
    s = svc(ports=[ServicePort(port, "http")])
    rejects(cluster(s), s, "spec.ports[0].port", repr(port), "must be between 1 and 65535, inclusive")


def test_port_and_protocol_must_be_unique():
    s = svc(ports=[ServicePort(53, "a", "UDP"), ServicePort(53, "b", "UDP")])
    rejects(cluster(s), s, "spec.ports[1].port", "53/UDP", "spec.ports[0]")


def test_same_port_number_with_two_protocols_is_fine():
    services.validate_service(cluster(), svc(ports=[ServicePort(53, "dns", "UDP"),
                                                    ServicePort(53, "dns-tcp", "TCP")]))


def test_target_port_number_must_be_a_port():
    s = svc(ports=[ServicePort(80, "http", "TCP", 70000)])
    rejects(cluster(s), s, "spec.ports[0].targetPort", "70000", "must be between 1 and 65535, inclusive")


@pytest.mark.parametrize("name", ["HTTP", "8080", "a-very-long-port-name", "-web", "we--b"])
def test_target_port_name_must_be_a_port_name(name):
    s = svc(ports=[ServicePort(80, "http", "TCP", name)])
    rejects(cluster(s), s, "spec.ports[0].targetPort", repr(name))


def test_target_port_name_no_selected_pod_defines():
    pod = Pod("web-1", "default", "node1", "172.30.76.2", {"app": "web"})
    s = svc(selector={"app": "web"}, ports=[ServicePort(80, "http", "TCP", "web-port")])
    rejects(cluster(s, pods=[pod]), s, "spec.ports[0].targetPort", "'web-port'", "container port")


def test_target_port_name_is_fine_when_a_pod_defines_it_or_none_is_selected_yet():
    pod = Pod("web-1", "default", "node1", "172.30.76.2", {"app": "web"})
    pod.container_ports = {"web-port": 8080}
    s = svc(selector={"app": "web"}, ports=[ServicePort(80, "http", "TCP", "web-port")])
    services.validate_service(cluster(s, pods=[pod]), s)
    services.validate_service(cluster(s), s)


def test_node_port_is_not_for_cluster_ip_services():
    s = svc(ports=[ServicePort(80, "http", "TCP", 80, 30080)])
    rejects(cluster(s), s, "spec.ports[0].nodePort", "30080", "ClusterIP")


@pytest.mark.parametrize("port", [29999, 32768, 80])
def test_node_port_must_be_in_range(port):
    s = svc(type="NodePort", ports=[ServicePort(80, "http", "TCP", 80, port)])
    rejects(cluster(s), s, "spec.ports[0].nodePort", str(port), "30000-32767")


def test_node_port_may_not_be_taken():
    other = svc("api", type="NodePort", cluster_ip="10.254.1.2", ports=[ServicePort(80, "", "TCP", 80, 30080)])
    s = svc(type="NodePort", ports=[ServicePort(80, "http", "TCP", 80, 30080)])
    rejects(cluster(other, s), s, "spec.ports[0].nodePort", "30080", "already allocated to service default/api")


def test_node_port_is_unique_within_a_service_per_protocol():
    s = svc(type="NodePort", ports=[ServicePort(80, "a", "TCP", 80, 30080), ServicePort(81, "b", "TCP", 81, 30080)])
    rejects(cluster(s), s, "spec.ports[1].nodePort", "30080/TCP", "spec.ports[0]")


# --- the rest of the spec ---------------------------------------------------------------------

def test_selector_values_must_be_strings():
    s = svc(selector={"app": 1})
    rejects(cluster(s), s, "spec.selector", "{'app': 1}")


def test_session_affinity_must_be_known():
    s = svc(session_affinity="Cookie")
    rejects(cluster(s), s, "spec.sessionAffinity", "'Cookie'", "None, ClientIP")


@pytest.mark.parametrize("timeout", [0, 86401])
def test_affinity_timeout_range(timeout):
    s = svc(session_affinity="ClientIP", affinity_timeout=timeout)
    rejects(cluster(s), s, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", str(timeout), "1-86400")


def test_external_traffic_policy_must_be_known():
    s = svc(type="NodePort", external_traffic_policy="Node")
    rejects(cluster(s), s, "spec.externalTrafficPolicy", "'Node'")


def test_local_policy_needs_node_ports():
    s = svc(external_traffic_policy="Local")
    rejects(cluster(s), s, "spec.externalTrafficPolicy", "'Local'", "ClusterIP")


def test_external_ip_must_be_an_address():
    s = svc(external_ips=["192.168.0.150", "example.com"])
    rejects(cluster(s), s, "spec.externalIPs[1]", "'example.com'")


@pytest.mark.parametrize("ip", ["0.0.0.0", "127.0.0.1", "169.254.1.1", "224.0.0.1"])
def test_external_ip_may_not_be_special(ip):
    s = svc(external_ips=[ip])
    rejects(cluster(s), s, "spec.externalIPs[0]", ip)


def test_external_ip_listed_twice():
    s = svc(external_ips=["192.168.0.150", "192.168.0.150"])
    rejects(cluster(s), s, "spec.externalIPs[1]", "192.168.0.150", "twice")


def test_load_balancer_ip_only_for_load_balancers():
    s = svc(load_balancer_ip="192.168.0.200")
    rejects(cluster(s), s, "spec.loadBalancerIP", "192.168.0.200", "LoadBalancer")


def test_load_balancer_ip_must_be_an_address():
    s = svc(type="LoadBalancer", load_balancer_ip="lb")
    rejects(cluster(s), s, "spec.loadBalancerIP", "'lb'")


def test_load_balancer_ip_may_not_be_taken():
    other = svc("api", type="LoadBalancer", cluster_ip="10.254.1.2", load_balancer_ip="192.168.0.200")
    s = svc(type="LoadBalancer", load_balancer_ip="192.168.0.200")
    rejects(cluster(other, s), s, "spec.loadBalancerIP", "192.168.0.200", "default/api")


# --- allocation --------------------------------------------------------------------------------

def test_cluster_ip_allocation_is_in_range_deterministic_and_skips_reserved():
    net = ip_network("10.254.0.0/16")
    got = {services.allocate_cluster_ip(str(net), "default", f"svc{i}", set()) for i in range(200)}
    assert len(got) > 150                                    # spread by the name's hash
    for ip in got:
        assert ip_address(ip) in net
        assert ip not in {"10.254.0.0", "10.254.0.1", "10.254.255.255"}
    assert (services.allocate_cluster_ip("10.254.0.0/16", "default", "web", set())
            == services.allocate_cluster_ip("10.254.0.0/16", "default", "web", set()))


def test_cluster_ip_allocation_skips_taken_addresses():
    first = services.allocate_cluster_ip("10.254.0.0/16", "default", "web", set())
    second = services.allocate_cluster_ip("10.254.0.0/16", "default", "web", {first})
    assert second != first and ip_address(second) in ip_network("10.254.0.0/16")


def test_kubernetes_service_gets_the_first_address():
    assert services.allocate_cluster_ip("10.254.0.0/16", "default", "kubernetes", set()) == "10.254.0.1"
    assert services.allocate_cluster_ip("10.254.0.0/16", "default", "kubernetes", {"10.254.0.1"}) != "10.254.0.1"


def test_cluster_ip_range_exhausted():
    usable = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}   # a /29 minus .0, .1, .7
    assert services.allocate_cluster_ip("10.0.0.0/29", "default", "a", usable - {"10.0.0.4"}) == "10.0.0.4"
    with pytest.raises(ModelError, match=r"^service default/a: spec.clusterIP: no free address left in service range 10.0.0.0/29$"):
        services.allocate_cluster_ip("10.0.0.0/29", "default", "a", usable)


def test_node_port_allocation_is_in_range_deterministic_and_skips_taken():
    port = ServicePort(80, "http")
    first = services.allocate_node_port("default", "web", port, set())
    assert 30000 <= first <= 32767
    assert services.allocate_node_port("default", "web", port, set()) == first
    second = services.allocate_node_port("default", "web", port, {first})
    assert second != first and 30000 <= second <= 32767


def test_node_port_range_exhausted():
    with pytest.raises(ModelError, match=r"nodePort: no free port left in 30000-30002$"):
        services.allocate_node_port("default", "web", ServicePort(80), {30000, 30001, 30002}, range(30000, 30003))


def test_lb_ip_allocation_from_the_pool():
    ip = services.allocate_lb_ip("default", "web", set())
    assert 200 <= int(ip.rsplit(".", 1)[1]) <= 250 and ip.startswith("192.168.0.")
    assert services.allocate_lb_ip("default", "web", {ip}) != ip
    pool = {f"192.168.0.{i}" for i in range(200, 251)}
    with pytest.raises(ModelError, match="no free address left in pool 192.168.0.200-192.168.0.250"):
        services.allocate_lb_ip("default", "web", pool)


def test_admit_fills_cluster_ip_and_node_ports_without_changing_its_input():
    other = svc("api", type="NodePort", cluster_ip="10.254.1.2", ports=[ServicePort(80, "", "TCP", 80, 30080)])
    s = svc(type="NodePort", cluster_ip=None,
            ports=[ServicePort(80, "http", "TCP", 8080), ServicePort(443, "https", "TCP", 8443, 31000)])
    c = cluster(other, s)
    out = services.admit(c, s)
    assert s.cluster_ip is None and s.ports[0].node_port is None          # input untouched
    assert ip_address(out.cluster_ip) in ip_network(c.service_cidr) and out.cluster_ip != "10.254.1.2"
    assert out.ports[1].node_port == 31000                                 # given ports stay
    assert out.ports[0].node_port in services.NODE_PORTS
    assert out.ports[0].node_port not in (30080, 31000)
    services.validate_service(cluster(other, out), out)                    # and the result is valid


def test_admit_gives_cluster_ip_services_no_node_ports():
    out = services.admit(cluster(), svc(cluster_ip=None))
    assert out.cluster_ip and out.ports[0].node_port is None


def test_admit_gives_external_name_services_no_cluster_ip():
    out = services.admit(cluster(), Service("alias", "default", type="ExternalName", external_name="db.example.com"))
    assert out.cluster_ip is None


def test_admit_rejects_invalid_services():
    with pytest.raises(ModelError, match=re.escape("service default/web: spec.type: 'Fancy'")):
        services.admit(cluster(), svc(type="Fancy"))


def test_load_balancer_pool_follows_the_underlay():
    from netlab.model.services import lb_pool
    assert lb_pool("192.168.0.0/24") == ("192.168.0.200", "192.168.0.250")
    assert lb_pool("192.168.50.0/24") == ("192.168.50.200", "192.168.50.250")


@pytest.mark.parametrize("ip", ["192.168.0.199", "192.168.0.251", "10.0.0.200"])
def test_load_balancer_ip_outside_the_pool_is_refused(ip):
    s = svc(type="LoadBalancer", load_balancer_ip=ip, ports=[ServicePort(80, "http", "TCP", 8080, 30080)])
    msg = rejects(cluster(s), s, "spec.loadBalancerIP", ip)
    assert msg.endswith(f"{ip} is outside the load balancer pool 192.168.0.200-192.168.0.250"), msg


@pytest.mark.parametrize("ip", ["192.168.0.200", "192.168.0.250"])
def test_load_balancer_ip_at_either_end_of_the_pool_is_fine(ip):
    s = svc(type="LoadBalancer", load_balancer_ip=ip, ports=[ServicePort(80, "http", "TCP", 8080, 30080)])
    services.validate_service(cluster(s), s)


def test_of_two_services_stating_one_value_the_later_is_blamed_naming_the_first():
    # a lab's state keeps its services in the order they came: the later one is the one applied
    first, later = svc("kube-dns", namespace="kube-system", cluster_ip="10.254.0.2"), svc("rs", cluster_ip="10.254.0.2")
    with pytest.raises(ModelError, match=r"^service default/rs: spec\.clusterIP: 10\.254\.0\.2 is already allocated "
                                         r"to service kube-system/kube-dns$"):
        services.validate_services(cluster(first, later))
    np1 = svc("a", type="NodePort", ports=[ServicePort(80, "http", "TCP", 80, 30100)])
    np2 = svc("b", cluster_ip="10.254.1.2", type="NodePort", ports=[ServicePort(80, "http", "TCP", 80, 30100)])
    with pytest.raises(ModelError, match=r"^service default/b: spec\.ports\[0\]\.nodePort: 30100 is already "
                                         r"allocated to service default/a$"):
        services.validate_services(cluster(np1, np2))
