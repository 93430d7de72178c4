from netlab.dns.records import build, resolve, reverse_zone
from netlab.dns.resolv import resolv_conf
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster


def _zone(extra_services=(), extra_endpoints=()):
    c = seed_cluster()
    c.services += list(extra_services)
    c.endpoints = derive_endpoints(c) + list(extra_endpoints)
    return build(c)


def _ask(z, name, rtype):
    a = resolve(z, name, rtype)
    return a.rcode, sorted(r[2] for r in a.answer if r[1] == rtype)


def test_cluster_ip_service_a_srv_ptr():
    z = _zone()
    assert _ask(z, "data-product.default.svc.cluster.local", "A") == ("NOERROR", ["10.254.116.224"])
    assert _ask(z, "_dns._udp.kube-dns.kube-system.svc.cluster.local", "SRV") == \
        ("NOERROR", ["0 100 53 kube-dns.kube-system.svc.cluster.local."])
    assert _ask(z, "224.116.254.10.in-addr.arpa", "PTR") == ("NOERROR", ["data-product.default.svc.cluster.local."])
    # the mysql port has no name: no SRV record
    assert resolve(z, "_._tcp.mysql.default.svc.cluster.local", "SRV").rcode == "NXDOMAIN"


def test_headless_service_answers_its_ready_endpoints():
    web = Service("web", "default", cluster_ip="None", ports=[ServicePort(80, "http", "TCP", 80)])
    ep = Endpoints("web", "default", [EndpointAddress("172.30.9.7", hostname="web-0"),
                                      EndpointAddress("172.30.76.9"),
                                      EndpointAddress("172.30.76.10", ready=False)],
                   [EndpointPort(80, "http")])
    z = _zone([web], [ep])
    assert _ask(z, "web.default.svc.cluster.local", "A") == ("NOERROR", ["172.30.76.9", "172.30.9.7"])
    assert _ask(z, "web-0.web.default.svc.cluster.local", "A") == ("NOERROR", ["172.30.9.7"])
    assert _ask(z, "_http._tcp.web.default.svc.cluster.local", "SRV") == ("NOERROR", [
        "0 100 80 172-30-76-9.web.default.svc.cluster.local.", "0 100 80 web-0.web.default.svc.cluster.local."])
    assert _ask(z, "7.9.30.172.in-addr.arpa", "PTR") == ("NOERROR", ["web-0.web.default.svc.cluster.local."])


def test_headless_without_ready_endpoints_is_nxdomain():
    web = Service("lonely", "default", cluster_ip="None", ports=[ServicePort(80, "http")])
    assert resolve(_zone([web]), "lonely.default.svc.cluster.local", "A").rcode == "NXDOMAIN"


def test_external_name_is_a_cname():
    ext = Service("search", "default", type="ExternalName", external_name="www.example.com")
    a = resolve(_zone([ext]), "search.default.svc.cluster.local", "A")
    assert (a.rcode, a.answer) == ("NOERROR", [("search.default.svc.cluster.local.", "CNAME", "www.example.com.")])


def test_pod_records():
    z = _zone()
    assert _ask(z, "172-30-9-2.default.pod.cluster.local", "A") == ("NOERROR", ["172.30.9.2"])
    assert _ask(z, "4.9.30.172.in-addr.arpa", "PTR") == ("NOERROR", ["172-30-9-4.kube-system.pod.cluster.local."])
    assert resolve(z, "999-30-9-2.default.pod.cluster.local", "A").rcode == "NXDOMAIN"


def test_schema_version_nodata_nxdomain_and_refused():
    z = _zone()
    assert _ask(z, "dns-version.cluster.local", "TXT") == ("NOERROR", ['"1.0.1"'])
    nodata = resolve(z, "data-product.default.svc.cluster.local", "AAAA")
    assert nodata.rcode == "NOERROR" and nodata.answer == [] and nodata.authority[0][1] == "SOA"
    assert resolve(z, "default.svc.cluster.local", "A").rcode == "NOERROR"        # empty non-terminal
    assert resolve(z, "nosuch.default.svc.cluster.local", "A").rcode == "NXDOMAIN"
    assert resolve(z, "DATA-PRODUCT.Default.SVC.cluster.local", "A").answer     # case-insensitive
    assert resolve(z, "www.google.com", "A").rcode == "REFUSED"               # never forwarded
    assert resolve(z, "8.8.8.8.in-addr.arpa", "PTR").rcode == "REFUSED"


def test_reverse_zones():
    assert reverse_zone("10.254.0.0/16") == "254.10.in-addr.arpa."
    assert reverse_zone("172.30.0.0/16") == "30.172.in-addr.arpa."


def test_resolv_conf_matches_the_walk_through():
    c = seed_cluster()
    pod = next(p for p in c.pods if p.name == "kube-dns-7cd94476cd-kr76t")
    assert resolv_conf(c, c.pods[0]) == ("nameserver 10.254.0.2\n"
                                         "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                                         "options ndots:5\n")
    assert resolv_conf(c, pod).splitlines()[1] == "search kube-system.svc.cluster.local svc.cluster.local cluster.local"


def test_a_cluster_ip_services_srv_carries_the_service_port_not_the_target_port():
    web = Service("web", "default", cluster_ip="10.254.50.5", ports=[ServicePort(80, "http", "TCP", 8080),
                                                                     ServicePort(53, "dns", "UDP", 5353)])
    z = _zone([web])
    assert _ask(z, "_http._tcp.web.default.svc.cluster.local", "SRV") == \
        ("NOERROR", ["0 100 80 web.default.svc.cluster.local."])
    assert _ask(z, "_dns._udp.web.default.svc.cluster.local", "SRV") == \
        ("NOERROR", ["0 100 53 web.default.svc.cluster.local."])
    assert resolve(z, "_http._udp.web.default.svc.cluster.local", "SRV").rcode == "NXDOMAIN"   # its protocol only


def test_a_string_suffix_of_a_real_name_is_nxdomain_a_label_suffix_nodata():
    """`roduct.default.svc...` ends `data-product.default.svc...` as a string, not as a name."""
    z = _zone()
    for name in ("roduct.default.svc.cluster.local", "product.default.svc.cluster.local",
                 "-product.default.svc.cluster.local", "efault.svc.cluster.local", "vc.cluster.local"):
        a = resolve(z, name, "A")
        assert (a.rcode, a.answer) == ("NXDOMAIN", []), name
        assert a.authority[0][1] == "SOA"
    for name in ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"):
        a = resolve(z, name, "A")                          # empty non-terminals (and the apex): NODATA
        assert (a.rcode, a.answer) == ("NOERROR", []), name
        assert a.authority[0][1] == "SOA"
    # nor is a longer name under a real one there
    assert resolve(z, "x.data-product.default.svc.cluster.local", "A").rcode == "NXDOMAIN"


def test_pod_style_names_answer_only_under_pod():
    z = _zone()
    assert _ask(z, "172-30-9-2.default.pod.cluster.local", "A") == ("NOERROR", ["172.30.9.2"])
    for name in ("172-30-9-2.default.svc.cluster.local", "172-30-9-2.default.pods.cluster.local",
                 "172-30-9-2.pod.cluster.local", "172-30-9-2.default.pod.other.local.cluster.local"):
        assert resolve(z, name, "A").rcode == "NXDOMAIN", name
    assert resolve(z, "172-30-9-2.default.pod.cluster.local", "AAAA").rcode == "NOERROR"   # NODATA
    assert resolve(z, "172-30-9-2.default.pod.cluster.local", "AAAA").answer == []
    assert _ask(z, "172-30-9-256.default.pod.cluster.local", "A")[0] == "NXDOMAIN"
    assert _ask(z, "10-0-0-1.any.pod.cluster.local", "A") == ("NOERROR", ["10.0.0.1"])      # any address


def test_a_pods_ptr_is_its_endpoints_name_when_a_headless_service_has_it_else_its_pod_name():
    # 172.30.9.2 is a data-product pod: a headless Service over it names it, the others keep pod names
    web = Service("dp", "default", cluster_ip="None", ports=[ServicePort(50051, "grpc")])
    ep = Endpoints("dp", "default", [EndpointAddress("172.30.9.2", pod="data-product-6664c6dcb9-tkmms")],
                   [EndpointPort(50051, "grpc")])
    z = _zone([web], [ep])
    assert _ask(z, "2.9.30.172.in-addr.arpa", "PTR") == ("NOERROR", ["172-30-9-2.dp.default.svc.cluster.local."])
    assert _ask(z, "3.76.30.172.in-addr.arpa", "PTR") == ("NOERROR", ["172-30-76-3.default.pod.cluster.local."])
    # without the headless Service: the pod's own name
    assert _ask(_zone(), "2.9.30.172.in-addr.arpa", "PTR") == ("NOERROR", ["172-30-9-2.default.pod.cluster.local."])


def _small(*services, endpoints=(), pods=(), domain="cluster.local"):
    from netlab.model.objects import Cluster
    return build(Cluster(dns_domain=domain, services=list(services), endpoints=list(endpoints), pods=list(pods)))


def test_apex_soa_and_ns_and_any():
    z = _small()
    soa = "ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
    assert _ask(z, "cluster.local", "SOA") == ("NOERROR", [soa])
    assert _ask(z, "cluster.local", "NS") == ("NOERROR", ["ns.dns.cluster.local."])
    assert sorted(r[1:] for r in resolve(z, "cluster.local", "ANY").answer) == [("NS", "ns.dns.cluster.local."),
                                                                               ("SOA", soa)]
    assert resolve(z, "10-0-0-1.x.pod.cluster.local", "ANY").answer == [("10-0-0-1.x.pod.cluster.local.", "A", "10.0.0.1")]
    assert z.lookup("nosuch.cluster.local.", "A") == [] and z.lookup("cluster.local.", "MX") == []


def test_the_domain_is_lower_case_with_one_final_dot():
    z = _small(Service("web", "default", cluster_ip="10.254.1.1"), domain="Lab.LocalX.")
    assert z.domain == "lab.localx."
    assert _ask(z, "web.default.svc.lab.localx", "A") == ("NOERROR", ["10.254.1.1"])
    # a one-label domain: pod names have just four labels
    assert _ask(_small(domain="lab"), "10-0-0-1.x.pod.lab", "A") == ("NOERROR", ["10.0.0.1"])
    assert _ask(_small(), "255-255-255-255.x.pod.cluster.local", "A") == ("NOERROR", ["255.255.255.255"])
    assert _ask(_small(), "256-0-0-1.x.pod.cluster.local", "A")[0] == "NXDOMAIN"


def test_external_names_cnames_and_the_services_after_them():
    alias = Service("alias", "default", type="ExternalName", external_name="WWW.Example.X.")
    inner = Service("inner", "default", type="ExternalName", external_name="web.default.svc.cluster.local")
    web = Service("web", "default", cluster_ip="10.254.1.1")
    z = _small(alias, inner, web)
    assert resolve(z, "alias.default.svc.cluster.local", "A").answer == [
        ("alias.default.svc.cluster.local.", "CNAME", "WWW.Example.X.")]          # outside: not followed
    assert resolve(z, "inner.default.svc.cluster.local", "A").answer == [        # inside: followed
        ("inner.default.svc.cluster.local.", "CNAME", "web.default.svc.cluster.local."),
        ("web.default.svc.cluster.local.", "A", "10.254.1.1")]
    assert resolve(z, "inner.default.svc.cluster.local", "CNAME").answer == [
        ("inner.default.svc.cluster.local.", "CNAME", "web.default.svc.cluster.local.")]


def test_at_most_eight_cnames_are_followed():
    chain = [Service(f"a{i}", "default", type="ExternalName", external_name=f"a{i + 1}.default.svc.cluster.local")
             for i in range(9)] + [Service("a9", "default", cluster_ip="10.254.1.9")]
    a = resolve(_small(*chain), "a0.default.svc.cluster.local", "A")
    assert [r[1] for r in a.answer] == ["CNAME"] * 8 and a.answer[-1][2] == "a8.default.svc.cluster.local."


def test_headless_skips_not_ready_addresses_and_names_udp_ports_in_lower_case():
    dns = Service("dns", "default", cluster_ip="None", ports=[ServicePort(53, "dns", "UDP")])
    ep = Endpoints("dns", "default", [EndpointAddress("172.30.76.9", ready=False), EndpointAddress("172.30.76.10")],
                   [EndpointPort(53, "dns", "UDP")])
    after = Service("web", "default", cluster_ip="10.254.1.1")
    z = _small(dns, after, endpoints=[ep])
    assert _ask(z, "dns.default.svc.cluster.local", "A") == ("NOERROR", ["172.30.76.10"])
    assert _ask(z, "_dns._udp.dns.default.svc.cluster.local", "SRV") == (
        "NOERROR", ["0 100 53 172-30-76-10.dns.default.svc.cluster.local."])
    assert _ask(z, "web.default.svc.cluster.local", "A") == ("NOERROR", ["10.254.1.1"])
    # a headless Service without an Endpoints object has no records, and the rest are there
    z = _small(Service("lone", "default", cluster_ip="None", ports=[ServicePort(53, "dns", "UDP")]), after)
    assert resolve(z, "lone.default.svc.cluster.local", "A").rcode == "NXDOMAIN"
    assert _ask(z, "web.default.svc.cluster.local", "A") == ("NOERROR", ["10.254.1.1"])


def test_a_cname_query_gets_the_first_cname_only():
    a = Service("a", "default", type="ExternalName", external_name="b.default.svc.cluster.local")
    b = Service("b", "default", type="ExternalName", external_name="c.default.svc.cluster.local")
    assert resolve(_small(a, b), "a.default.svc.cluster.local", "CNAME").answer == [
        ("a.default.svc.cluster.local.", "CNAME", "b.default.svc.cluster.local.")]
