"""The endpoints controller: selectors become Endpoints."""
import pytest

from netlab.errors import ModelError
from netlab.model import manifests, store
from netlab.model.endpoints import api_endpoints, derive_endpoints, endpoints_for, find, slice_endpoints
from netlab.model.objects import (
    Cluster, EndpointAddress, EndpointPort, Endpoints, EndpointSlice, Node, Pod, Service, ServicePort,
)
from netlab.model.seed import seed_cluster
from netlab.model.validate import validate


def small_cluster(*pods: Pod, services=()) -> Cluster:
    c = Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24"),
                       Node("node2", "192.168.0.22", "172.30.9.0/24")])
    c.pods = list(pods)
    c.services = list(services)
    return c


def web(selector=None, **kw) -> Service:
    return Service("web", "default", cluster_ip="10.254.1.1",
                   ports=kw.pop("ports", [ServicePort(80, "http", "TCP", 8080)]),
                   selector={"app": "web"} if selector is None else selector, **kw)


def test_seed_data_product_addresses_sorted_as_text_with_node_and_pod():
    ep = find(derive_endpoints(seed_cluster()), "default", "data-product")
    # SEED.md section 3; "172.30.76.x" sorts before "172.30.9.x" when compared as text.
    assert [(a.ip, a.node, a.pod) for a in ep.addresses] == [
        ("172.30.76.3", "node1", "data-product-6664c6dcb9-7bn7p"),
        ("172.30.76.5", "node1", "data-product-6664c6dcb9-4zk27"),
        ("172.30.9.2", "node2", "data-product-6664c6dcb9-tkmms"),
    ]
    assert all(a.ready for a in ep.addresses)
    assert ep.ports == [EndpointPort(50051, "data-product", "TCP")]


def test_seed_business_manager_uses_target_port():
    ep = find(derive_endpoints(seed_cluster()), "default", "business-manager")
    assert [a.ip for a in ep.addresses] == ["172.30.76.6", "172.30.76.7", "172.30.9.3"]
    assert ep.ports == [EndpointPort(8080, "business-manager", "TCP")]


def test_seed_kube_dns_two_ports_in_spec_order():
    ep = find(derive_endpoints(seed_cluster()), "kube-system", "kube-dns")
    assert [a.ip for a in ep.addresses] == ["172.30.9.4"]
    assert ep.ports == [EndpointPort(53, "dns", "UDP"), EndpointPort(53, "dns-tcp", "TCP")]


def test_seed_ingress_selector_with_two_labels():
    ep = find(derive_endpoints(seed_cluster()), "ingress-nginx", "ingress-nginx")
    assert [a.ip for a in ep.addresses] == ["172.30.76.2"]
    assert [(p.port, p.name) for p in ep.ports] == [(80, "http"), (443, "https")]


def test_seed_mysql_keeps_hand_written_endpoints():
    ep = find(derive_endpoints(seed_cluster()), "default", "mysql")
    assert [(a.ip, a.node, a.pod) for a in ep.addresses] == [("192.168.0.103", None, None)]
    assert ep.ports == [EndpointPort(3306)]


def test_seed_kubernetes_service_has_the_api_server_on_the_first_node():
    ep = find(derive_endpoints(seed_cluster()), "default", "kubernetes")
    assert [(a.ip, a.node, a.pod, a.ready) for a in ep.addresses] == [("192.168.0.21", None, None, True)]
    assert ep.ports == [EndpointPort(6443, "https", "TCP")]


def test_the_api_endpoints_overwrite_hand_written_ones_and_follow_the_first_node():
    c = seed_cluster()
    c.endpoints.append(Endpoints("kubernetes", "default", [EndpointAddress("10.9.9.9")], [EndpointPort(1)]))
    c.nodes.reverse()
    ep = find(derive_endpoints(c), "default", "kubernetes")
    assert [a.ip for a in ep.addresses] == ["192.168.0.22"] and ep.ports[0].port == 6443


def test_no_api_endpoints_without_the_service_or_a_node():
    c = seed_cluster()
    c.services = [s for s in c.services if s.name != "kubernetes"]
    assert api_endpoints(c) is None and find(derive_endpoints(c), "default", "kubernetes") is None
    c = seed_cluster()
    c.nodes = []
    assert api_endpoints(c) is None


def test_text_order_not_numeric():
    c = small_cluster(Pod("a", "default", "node1", "10.0.0.9", {"app": "web"}),
                      Pod("b", "default", "node1", "10.0.0.10", {"app": "web"}),
                      Pod("c", "default", "node1", "10.0.0.100", {"app": "web"}),
                      services=[web()])
    assert [a.ip for a in endpoints_for(c, c.services[0]).addresses] == ["10.0.0.10", "10.0.0.100", "10.0.0.9"]


def test_selector_is_a_subset_match_in_the_service_namespace():
    c = small_cluster(Pod("match", "default", "node1", "172.30.76.2", {"app": "web", "tier": "front"}),
                      Pod("other-label", "default", "node1", "172.30.76.3", {"app": "db"}),
                      Pod("other-ns", "prod", "node1", "172.30.76.4", {"app": "web"}),
                      Pod("missing-label", "default", "node2", "172.30.9.2", {"tier": "front"}),
                      services=[web({"app": "web", "tier": "front"})])
    assert [a.pod for a in endpoints_for(c, c.services[0]).addresses] == ["match"]


def test_pods_without_an_address_are_left_out():
    c = small_cluster(Pod("pending", "default", "", "", {"app": "web"}), services=[web()])
    ep = endpoints_for(c, c.services[0])
    assert ep.addresses == [] and ep.ports == []


def test_ready_flag_is_copied_when_pods_have_one():
    pod = Pod("a", "default", "node1", "172.30.76.2", {"app": "web"})
    pod.ready = False
    c = small_cluster(pod, Pod("b", "default", "node1", "172.30.76.3", {"app": "web"}), services=[web()])
    assert [(a.ip, a.ready) for a in endpoints_for(c, c.services[0]).addresses] == [
        ("172.30.76.2", False), ("172.30.76.3", True)]


def test_target_port_zero_means_the_service_port():
    c = small_cluster(Pod("a", "default", "node1", "172.30.76.2", {"app": "web"}),
                      services=[web(ports=[ServicePort(80, "", "TCP", 0)])])
    assert endpoints_for(c, c.services[0]).ports == [EndpointPort(80, "", "TCP")]


def test_named_target_port_without_container_ports_resolves_to_nothing():
    c = small_cluster(Pod("a", "default", "node1", "172.30.76.2", {"app": "web"}),
                      services=[web(ports=[ServicePort(80, "http", "TCP", "web-port"),
                                           ServicePort(81, "admin", "TCP", 9090)])])
    ep = endpoints_for(c, c.services[0])
    assert [a.ip for a in ep.addresses] == ["172.30.76.2"]
    assert ep.ports == [EndpointPort(9090, "admin", "TCP")]


def test_named_target_port_uses_container_ports_when_pods_have_them():
    a = Pod("a", "default", "node1", "172.30.76.2", {"app": "web"})
    b = Pod("b", "default", "node2", "172.30.9.2", {"app": "web"})
    a.container_ports = b.container_ports = {"web-port": 8080}
    c = small_cluster(a, b, services=[web(ports=[ServicePort(80, "http", "TCP", "web-port")])])
    assert endpoints_for(c, c.services[0]).ports == [EndpointPort(8080, "http", "TCP")]
    b.container_ports = {"web-port": 8081}          # one Endpoints object cannot hold both
    assert endpoints_for(c, c.services[0]).ports == []


def test_no_selected_pods_gives_an_empty_endpoints_object():
    c = small_cluster(services=[web()])
    ep = endpoints_for(c, c.services[0])
    assert (ep.name, ep.namespace, ep.addresses, ep.ports) == ("web", "default", [], [])


def test_selector_less_and_external_name_services_get_none():
    c = small_cluster(Pod("a", "default", "node1", "172.30.76.2", {"app": "web"}))
    assert endpoints_for(c, web(selector={})) is None
    assert endpoints_for(c, Service("db", "default", ports=[ServicePort(3306)])) is None
    alias = Service("ext", "default", type="ExternalName", external_name="example.com", selector={"app": "web"})
    assert endpoints_for(c, alias) is None


def test_derive_replaces_stale_endpoints_of_selector_services_and_keeps_the_rest():
    c = small_cluster(Pod("a", "default", "node1", "172.30.76.2", {"app": "web"}),
                      services=[web(), Service("db", "default", cluster_ip="10.254.1.2",
                                               ports=[ServicePort(5432)])])
    stale = Endpoints("web", "default", [EndpointAddress("10.9.9.9")], [EndpointPort(1)])
    by_hand = Endpoints("db", "default", [EndpointAddress("192.168.0.103")], [EndpointPort(5432)])
    orphan = Endpoints("legacy", "apps", [EndpointAddress("192.168.0.104")], [EndpointPort(80)])
    c.endpoints = [stale, orphan, by_hand]
    derived = derive_endpoints(c)
    assert [(e.namespace, e.name) for e in derived] == [("apps", "legacy"), ("default", "db"), ("default", "web")]
    assert find(derived, "default", "web").addresses[0].ip == "172.30.76.2"
    assert find(derived, "default", "db") is by_hand
    assert find(derived, "apps", "legacy") is orphan


def test_derive_does_not_change_the_cluster():
    c = seed_cluster()
    before = c.to_dict()
    derive_endpoints(c)
    assert c.to_dict() == before


# ---------------------------------------------------------------- EndpointSlices

def mysql(**kw) -> Service:
    return Service("mysql", "default", cluster_ip="10.254.84.209", ports=[ServicePort(3306, "sql", "TCP", 3306)],
                   **kw)


def a_slice(name, *addresses, ports=None, service="mysql", namespace="default") -> EndpointSlice:
    return EndpointSlice(name, namespace, service, list(addresses),
                         [EndpointPort(3306, "sql")] if ports is None else ports)


def test_a_selector_less_service_gets_its_endpoints_from_its_slices_merged():
    c = small_cluster(services=[mysql()])
    c.endpoint_slices = [
        a_slice("mysql-b", EndpointAddress("192.168.0.9"),
                EndpointAddress("172.30.9.7", node="node2", pod="replica", ready=False, hostname="replica")),
        a_slice("mysql-a", EndpointAddress("192.168.0.103"), EndpointAddress("192.168.0.10"),
                EndpointAddress("192.168.0.9", hostname="first")),
        a_slice("other", EndpointAddress("10.0.0.1"), service="db"),
        a_slice("elsewhere", EndpointAddress("10.0.0.2"), namespace="prod"),
    ]
    ep = find(derive_endpoints(c), "default", "mysql")
    # text order, as for selected pods; 192.168.0.9 once, as the first slice by name (mysql-a) gives it
    assert ep.addresses == [EndpointAddress("172.30.9.7", node="node2", pod="replica", ready=False, hostname="replica"),
                            EndpointAddress("192.168.0.10"), EndpointAddress("192.168.0.103"),
                            EndpointAddress("192.168.0.9", hostname="first")]
    assert ep.ports == [EndpointPort(3306, "sql", "TCP")]
    assert find(derive_endpoints(c), "default", "db") is None      # slices of a Service that does not exist


def test_hand_written_endpoints_win_over_slices():
    c = small_cluster(services=[mysql()])
    by_hand = Endpoints("mysql", "default", [EndpointAddress("192.168.0.103")], [EndpointPort(3306)])
    c.endpoints = [by_hand]
    c.endpoint_slices = [a_slice("mysql-a", EndpointAddress("192.168.0.104"))]
    assert find(derive_endpoints(c), "default", "mysql") is by_hand


def test_slices_do_not_count_for_selector_and_external_name_services():
    c = small_cluster(Pod("a", "default", "node1", "172.30.76.2", {"app": "web"}),
                      services=[web(), Service("ext", "default", type="ExternalName", external_name="example.com")])
    c.endpoint_slices = [a_slice("web-1", EndpointAddress("10.9.9.9"), service="web"),
                         a_slice("ext-1", EndpointAddress("10.9.9.8"), service="ext")]
    assert [a.ip for a in find(derive_endpoints(c), "default", "web").addresses] == ["172.30.76.2"]
    assert find(derive_endpoints(c), "default", "ext") is None
    assert slice_endpoints(c.services[0], c.endpoint_slices) is None


def test_slices_without_endpoints_give_an_empty_endpoints_object():
    c = small_cluster(services=[mysql()])
    c.endpoint_slices = [a_slice("mysql-a")]
    ep = find(derive_endpoints(c), "default", "mysql")
    assert (ep.addresses, ep.ports) == ([], [])


def test_only_slices_with_the_first_slices_ports_count_and_validation_refuses_others():
    c = small_cluster(services=[mysql()])
    c.endpoint_slices = [a_slice("mysql-a", EndpointAddress("192.168.0.103")),
                         a_slice("mysql-b", EndpointAddress("192.168.0.104"), ports=[EndpointPort(3307, "sql")])]
    ep = find(derive_endpoints(c), "default", "mysql")
    assert [a.ip for a in ep.addresses] == ["192.168.0.103"] and ep.ports == [EndpointPort(3306, "sql")]
    with pytest.raises(ModelError, match=r"^endpointSlices: default/mysql-b: ports differ from those of ") as e:
        validate(c)
    assert str(e.value) == ("endpointSlices: default/mysql-b: ports differ from those of default/mysql-a, another "
                            "slice of service 'mysql' (netlab keeps one set of ports per Service; give its slices "
                            "the same ports)")


SLICE = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: mysql-1, labels: {kubernetes.io/service-name: mysql}}
addressType: IPv4
ports: [{port: 3306}]
endpoints: [{addresses: [%s]}]
"""


def test_a_changed_or_deleted_slice_changes_the_stored_endpoints(tmp_path):
    """The lab stores derived Endpoints with the cluster; a slice's change must still reach them."""
    c = seed_cluster()
    c.endpoints = [e for e in c.endpoints if e.name != "mysql"]          # mysql: no hand-written Endpoints

    def apply(text, delete=False):
        f = tmp_path / "slice.yaml"
        f.write_text(text)
        ms = manifests.load(f)
        missing = store.delete(c, ms) if delete else store.apply(c, ms)
        c.endpoints = derive_endpoints(c)                                # as the lab does after every change
        return missing

    apply(SLICE % "192.168.0.103")
    assert [a.ip for a in find(c.endpoints, "default", "mysql").addresses] == ["192.168.0.103"]
    apply(SLICE % "192.168.0.104")
    assert [a.ip for a in find(c.endpoints, "default", "mysql").addresses] == ["192.168.0.104"]
    assert apply(SLICE % "192.168.0.104", delete=True) == []
    assert find(c.endpoints, "default", "mysql") is None
    # Endpoints written by hand stay when a slice comes and goes
    c.endpoints.append(Endpoints("mysql", "default", [EndpointAddress("192.168.0.103")], [EndpointPort(3306)]))
    apply(SLICE % "192.168.0.105")
    apply(SLICE % "192.168.0.106", delete=True)
    assert [a.ip for a in find(c.endpoints, "default", "mysql").addresses] == ["192.168.0.103"]


def test_a_service_selects_only_the_pods_of_its_own_namespace():
    """A pod of another namespace with the SAME labels is not the Service's endpoint."""
    mine = Pod("web-1", "default", "node1", "172.30.76.2", labels={"app": "web"})
    theirs = Pod("web-1", "shop", "node2", "172.30.9.2", labels={"app": "web"})
    c = small_cluster(mine, theirs, services=[web()])
    assert [a.ip for a in endpoints_for(c, c.services[0]).addresses] == ["172.30.76.2"]
    other = Service("web", "shop", cluster_ip="10.254.1.2", ports=[ServicePort(80, "http", "TCP", 8080)],
                    selector={"app": "web"})
    c.services.append(other)
    assert [(e.namespace, [a.pod for a in e.addresses]) for e in derive_endpoints(c)] == [
        ("default", ["web-1"]), ("shop", ["web-1"])]
    assert [a.ip for a in find(derive_endpoints(c), "shop", "web").addresses] == ["172.30.9.2"]
