"""Admission of services (admit, admit_all: the addresses and ports chosen, what the shared
`Taken` records, how later services see earlier allocations) and the seed cluster's objects
as ../shared/SEED.md has them."""
import re
import string

import pytest
from cryptography import x509

from netlab import tls
from netlab.errors import ModelError
from netlab.model import services
from netlab.model.objects import Cluster, Node, Service, ServicePort
from netlab.model.secrets import decode
from netlab.model.seed import HOST, seed_cluster


def cluster(*svcs: Service, **kw) -> Cluster:
    c = Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24")], **kw)
    c.services = list(svcs)
    return c


def web(name="web", **kw) -> Service:
    kw.setdefault("ports", [ServicePort(80, "http", "TCP", 8080)])
    return Service(name, kw.pop("namespace", "default"), **kw)


def node_port_svc(name="web", **kw) -> Service:
    """NodePort with one port to allocate (http) and one stated (https: 31000)."""
    return web(name, type="NodePort", ports=[ServicePort(80, "http", "TCP", 8080),
                                             ServicePort(443, "https", "TCP", 8443, 31000)], **kw)


# --- admit: the values chosen (deterministic: a hash of namespace/name) ---------------------

def test_admit_allocates_the_cluster_ip_from_namespace_and_name():
    out = services.admit(cluster(), web())
    assert out.cluster_ip == "10.254.39.225"
    assert out.cluster_ip == services.allocate_cluster_ip("10.254.0.0/16", "default", "web", set())


def test_admit_gives_default_kubernetes_the_first_address():
    out = services.admit(cluster(), web("kubernetes", ports=[ServicePort(443, "https", "TCP", 6443)]))
    assert out.cluster_ip == "10.254.0.1"


def test_admit_allocates_node_ports_from_namespace_name_and_port():
    out = services.admit(cluster(), node_port_svc())
    assert [p.node_port for p in out.ports] == [30784, 31000]
    assert out.ports[0].node_port == services.allocate_node_port("default", "web", ServicePort(80, "http"), set())


# --- admit: what it records in the `taken` it is given ----------------------------------------

def test_admit_records_its_allocations_and_stated_node_ports_in_taken():
    c = cluster()
    taken = services.Taken(c.services)
    out = services.admit(c, node_port_svc(), taken)       # a new service: not in c.services
    assert taken.cluster_ips == {"10.254.39.225": ["default/web"]}
    assert taken.node_ports == {30784: ["default/web"], 31000: ["default/web"]}
    assert taken.lb_ips == {}
    assert out.cluster_ip == "10.254.39.225"


def test_admit_does_not_record_a_service_twice_for_its_own_stated_node_port():
    s = node_port_svc(cluster_ip="10.254.1.1")
    c = cluster(s)                                          # an update: already in c.services
    taken = services.Taken(c.services)
    services.admit(c, s, taken)
    assert taken.node_ports == {30784: ["default/web"], 31000: ["default/web"]}
    assert taken.cluster_ips == {"10.254.1.1": ["default/web"]}


def test_a_cluster_ip_admit_allocated_is_refused_to_the_next_service():
    c = cluster()
    taken = services.Taken()
    first = services.admit(c, web("api"), taken)
    clash = web(cluster_ip=first.cluster_ip)
    with pytest.raises(ModelError, match=re.escape(
            f"service default/web: spec.clusterIP: {first.cluster_ip} is already allocated to service default/api")):
        services.admit(c, clash, taken)
    with pytest.raises(ModelError, match="already allocated to service default/api"):
        services.validate_service(c, clash, taken)


@pytest.mark.parametrize("j", [0, 1], ids=["allocated", "stated"])
def test_a_node_port_admit_holds_is_refused_to_the_next_service(j):
    c = cluster()
    taken = services.Taken()
    first = services.admit(c, node_port_svc("api"), taken)
    port = first.ports[j].node_port
    clash = web(type="NodePort", cluster_ip="10.254.1.1", ports=[ServicePort(81, "x", "TCP", 81, port)])
    with pytest.raises(ModelError, match=re.escape(
            f"service default/web: spec.ports[0].nodePort: {port} is already allocated to service default/api")):
        services.admit(c, clash, taken)


# --- admit_all: one pass, every allocation seen by the services after it ----------------------

def test_admit_all_gives_every_service_its_own_cluster_ip():
    # a /29 has 5 addresses to give (.0, .1 and .7 are not); svc1 and svc4 hash to the same start
    c = cluster(*(web(f"svc{i}") for i in range(5)), service_cidr="10.0.0.0/29")
    services.admit_all(c)
    assert sorted(s.cluster_ip for s in c.services) == [f"10.0.0.{i}" for i in range(2, 7)]


def test_admit_all_gives_every_service_its_own_node_port():
    # svc41 and svc65 both hash to 31965 for port http/TCP
    c = cluster(web("svc41", type="NodePort"), web("svc65", type="NodePort"))
    services.admit_all(c)
    assert [s.ports[0].node_port for s in c.services] == [31965, 31966]


def test_admit_all_gives_load_balancers_an_address_from_the_pool():
    c = cluster(web(type="LoadBalancer"), web("api"))
    services.admit_all(c)
    lb, plain = c.services
    assert lb.load_balancer_ip == "192.168.0.220"
    assert lb.load_balancer_ip == services.allocate_lb_ip("default", "web", set())
    assert lb.ports[0].node_port is not None and lb.cluster_ip
    assert plain.load_balancer_ip is None and plain.ports[0].node_port is None


def test_admit_all_takes_load_balancer_addresses_from_the_underlays_pool():
    c = cluster(web(type="LoadBalancer"), underlay_cidr="192.168.50.0/24")
    services.admit_all(c)
    assert c.services[0].load_balancer_ip == "192.168.50.220"


def test_admit_all_keeps_a_stated_load_balancer_ip_and_allocates_around_it():
    # web would be given .220 were it free
    c = cluster(web(type="LoadBalancer"), web("api", type="LoadBalancer", load_balancer_ip="192.168.0.220"))
    services.admit_all(c)
    assert [s.load_balancer_ip for s in c.services] == ["192.168.0.221", "192.168.0.220"]


def test_admit_all_gives_every_load_balancer_its_own_address():
    # lb2 and lb4 hash to the same start in the pool (.202)
    c = cluster(web("lb2", type="LoadBalancer"), web("lb4", type="LoadBalancer"))
    services.admit_all(c)
    assert [s.load_balancer_ip for s in c.services] == ["192.168.0.202", "192.168.0.203"]


def test_admit_all_leaves_other_types_without_a_load_balancer_ip():
    c = cluster(web(type="NodePort"), web("api"), Service("alias", "default", type="ExternalName",
                                                          external_name="db.example.com"))
    services.admit_all(c)
    assert [s.load_balancer_ip for s in c.services] == [None, None, None]


# --- seed_cluster (SEED.md) -------------------------------------------------------------------

def test_seed_cluster_is_named_seed():
    assert seed_cluster().name == "seed"
    assert seed_cluster("lab2").name == "lab2"


def _stamped(c: Cluster):
    return {(kind, o.name): o.created for kind in ("pods", "services", "secrets", "ingresses")
            for o in getattr(c, kind)}


def test_seed_cluster_objects_are_created_at_now():
    assert set(_stamped(seed_cluster()).values()) == {0.0}
    stamped = _stamped(seed_cluster(now=1234.5))
    assert set(stamped.values()) == {1234.5}
    # the platform's (kube-dns, ingress) and the shop's alike
    for key in [("services", "kubernetes"), ("services", "kube-dns"), ("services", "ingress-nginx"),
                ("services", "business-manager"), ("services", "data-product"), ("services", "mysql"),
                ("pods", "kube-dns-7cd94476cd-kr76t"), ("secrets", "mysql"),
                ("secrets", "business-manager-tls"), ("ingresses", "business-manager")]:
        assert stamped[key] == 1234.5, key


def test_seed_services_are_those_of_seed_md():
    c = seed_cluster()
    got = {(s.namespace, s.name): (s.type, s.cluster_ip, s.selector,
                                   [(p.port, p.name, p.protocol, p.node_port) for p in s.ports])
           for s in c.services}
    assert got == {
        ("default", "business-manager"): ("ClusterIP", "10.254.80.22", {"app": "business-manager"},
                                          [(80, "business-manager", "TCP", None)]),
        ("default", "data-product"): ("ClusterIP", "10.254.116.224", {"app": "data-product"},
                                      [(50051, "data-product", "TCP", None)]),
        ("default", "kubernetes"): ("ClusterIP", "10.254.0.1", None, [(443, "https", "TCP", None)]),
        ("kube-system", "kube-dns"): ("ClusterIP", "10.254.0.2", {"k8s-app": "kube-dns"},
                                      [(53, "dns", "UDP", None), (53, "dns-tcp", "TCP", None)]),
        ("ingress-nginx", "ingress-nginx"): ("NodePort", "10.254.189.164",
                                             {"app.kubernetes.io/name": "ingress-nginx",
                                              "app.kubernetes.io/part-of": "ingress-nginx"},
                                             [(80, "http", "TCP", 30799), (443, "https", "TCP", 31522)]),
        ("default", "mysql"): ("ClusterIP", "10.254.84.209", None, [(3306, "", "TCP", None)]),
    }


@pytest.mark.parametrize("name, target", [("business-manager", 8080), ("data-product", 50051), ("mysql", 3306)])
def test_seed_shop_services_target_ports(name, target):
    svc = next(s for s in seed_cluster().services if s.name == name)
    assert [p.target_port for p in svc.ports] == [target]


def test_seed_mysql_is_a_selectorless_service_in_front_of_the_db_host():
    c = seed_cluster()
    (ep,) = [e for e in c.endpoints if (e.namespace, e.name) == ("default", "mysql")]
    assert [a.ip for a in ep.addresses] == ["192.168.0.103"] and [p.port for p in ep.ports] == [3306]
    db = next(h for h in c.hosts if h.name == "db")
    assert db.ip == "192.168.0.103"


def test_seed_db_host_runs_the_database_with_the_mysql_secrets_password():
    c = seed_cluster()
    db = next(h for h in c.hosts if h.name == "db")
    assert db.command == ["netlab-db", "--password-secret", "default/mysql/password"]
    ns, name, key = db.command[2].split("/")
    secret = next(s for s in c.secrets if (s.namespace, s.name) == (ns, name))
    assert key in decode(secret)


def test_seed_mysql_secret_holds_a_fresh_password():
    def password(c):
        (s,) = [s for s in c.secrets if s.name == "mysql"]
        assert (s.namespace, s.type, sorted(s.data)) == ("default", "Opaque", ["password"])
        return decode(s)["password"].decode()
    one, two = password(seed_cluster()), password(seed_cluster())
    assert len(one) == 16 and set(one) <= set(string.ascii_letters + string.digits + "-_")   # 12 random bytes
    assert one != two                                       # each lab its own


def test_seed_ingress_certificate_secret():
    (s,) = [s for s in seed_cluster().secrets if s.name == "business-manager-tls"]
    assert (s.namespace, s.type) == ("default", "kubernetes.io/tls")
    data = decode(s)
    assert sorted(data) == ["ca.crt", "tls.crt", "tls.key"]
    tls.check_pair(data["tls.crt"], data["tls.key"], "seed")
    cert = x509.load_pem_x509_certificate(data["tls.crt"])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [HOST] == ["business-manager.default"]
