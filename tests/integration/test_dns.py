"""Cluster DNS as a pod sees it: names resolved through 10.254.0.2, i.e. through kube-proxy's rules."""
import time

from netlab import layout, probe
from netlab.model.seed import seed_cluster

from helpers import apply, eventually, netlab, pod_ns, sh

BM = "business-manager-666f454f7f-7l86b"          # on node1; kube-dns is on node2


def dig(ns, *args):
    return sh(ns, "dig", "+tries=1", "+time=2", *args).stdout


def test_short_and_full_names_resolve_to_the_cluster_ip(seed_lab):
    pod = pod_ns(seed_lab.cluster(), BM)
    for name in ("data-product", "data-product.default", "data-product.default.svc.cluster.local"):
        assert sh(pod, "getent", "hosts", name).stdout.split()[0] == "10.254.116.224", name
    assert sh(pod, "cat", "/etc/resolv.conf").stdout == (
        "nameserver 10.254.0.2\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n")


def test_srv_ptr_pod_records_and_nxdomain(seed_lab):
    pod = pod_ns(seed_lab.cluster(), BM)
    srv = dig(pod, "+short", "SRV", "_data-product._tcp.data-product.default.svc.cluster.local")
    assert srv.split() == ["0", "100", "50051", "data-product.default.svc.cluster.local."]
    assert dig(pod, "+short", "-x", "10.254.116.224").strip() == "data-product.default.svc.cluster.local."
    assert dig(pod, "+short", "172-30-9-2.default.pod.cluster.local").strip() == "172.30.9.2"
    out = dig(pod, "nosuch.default.svc.cluster.local")
    assert "status: NXDOMAIN" in out and "flags: qr aa" in out
    assert "status: NOERROR" in dig(pod, "AAAA", "data-product.default.svc.cluster.local")   # NODATA
    assert dig(pod, "+short", "TXT", "dns-version.cluster.local").strip() == '"1.0.1"'
    assert dig(pod, "+tcp", "+short", "kubernetes.default.svc.cluster.local").strip() == "10.254.0.1"


def test_names_outside_the_cluster_are_refused_and_nothing_leaves(seed_lab):
    c = seed_lab.cluster()
    router = layout.host_ns(c.name, "router")
    # unicast IPv4 only: link-local chatter (IPv6, IGMP) is not lab traffic leaving
    with probe.capture(router, "eth0", timeout=2, bpf="ip and not ip multicast") as cap:
        out = dig(pod_ns(c, BM), "www.example.com")
    assert "status: REFUSED" in out
    assert cap.packets() == []          # not one packet reached the way out of the lab


def test_ndots_search_list_from_queries_seen_at_the_dns_pod(seed_lab):
    c = seed_lab.cluster()
    dns_pod = pod_ns(c, "kube-dns-7cd94476cd-kr76t")
    pod = pod_ns(c, BM)
    with probe.capture(dns_pod, "eth0", timeout=3, bpf="udp dst port 53") as cap:
        sh(pod, "getent", "ahostsv4", "data-product", check=False)
        sh(pod, "getent", "ahostsv4", "a.b.c.d.e.f", check=False)
    names = [p["DNS"].qd[0].qname.decode() for p in cap.packets() if p.haslayer("DNS") and p["DNS"].qd]
    short = [n for n in names if n.startswith("data-product")]
    dotted = [n for n in names if n.startswith("a.b.c.d.e.f")]
    # fewer than 5 dots: the search list first, so the first query is the namespace's name
    assert short and short[0] == "data-product.default.svc.cluster.local."
    # 5 dots: the name goes out as it is first, then with the search suffixes
    assert dotted and dotted[0] == "a.b.c.d.e.f."
    assert "a.b.c.d.e.f.default.svc.cluster.local." in dotted


HEADLESS = """
apiVersion: v1
kind: Service
metadata: {name: dp-headless}
spec:
  clusterIP: None
  selector: {app: data-product}
  ports: [{name: grpc, port: 50051}]
---
apiVersion: v1
kind: Service
metadata: {name: search}
spec: {type: ExternalName, externalName: www.example.com}
"""


def test_headless_external_name_and_changes_within_a_second(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, HEADLESS)
    c = lab.cluster()
    pod = pod_ns(c, BM)
    ips = lambda: sorted(dig(pod, "+short", "dp-headless.default.svc.cluster.local").split())  # noqa: E731
    assert eventually(lambda: ips() == sorted(p.ip for p in c.pods if p.owner == "data-product"), timeout=1.0)
    assert "search.default.svc.cluster.local. 5 IN CNAME www.example.com." in \
        " ".join(dig(pod, "+noall", "+answer", "search.default.svc.cluster.local").split("\t"))
    netlab("scale", "deployment", "data-product", "--replicas", "4", "--name", lab.name)
    t = time.monotonic()
    want = sorted(p.ip for p in lab.cluster().pods if p.owner == "data-product")
    assert len(want) == 4
    assert eventually(lambda: ips() == want, timeout=1.0), ips()
    assert time.monotonic() - t < 1.5


def test_dns_answers_at_once_when_its_endpoints_come_back(make_lab):
    """A query sent while kube-dns had no endpoints leaves a conntrack entry without NAT;
    kube-proxy (and netlab) delete such UDP entries when endpoints appear, or the same
    client socket would wait for nothing."""
    lab = make_lab(seed_cluster)
    pod = pod_ns(lab.cluster(), BM)
    ask = ["dig", "+tries=1", "+time=2", "-b", "0.0.0.0#40053", "+short", "data-product.default.svc.cluster.local"]
    netlab("scale", "deployment", "kube-dns", "-n", "kube-system", "--replicas", "0", "--name", lab.name)
    # no endpoints: kube-proxy REJECTs the query (ICMP port unreachable), dig says so and gives up
    refused = sh(pod, *ask, check=False)
    assert "connection refused" in refused.stdout and "10.254.116.224" not in refused.stdout, refused.stdout
    netlab("scale", "deployment", "kube-dns", "-n", "kube-system", "--replicas", "1", "--name", lab.name)
    t = time.monotonic()
    assert sh(pod, *ask).stdout.strip() == "10.254.116.224"
    assert time.monotonic() - t < 1.5


UPSTREAM = """
import socketserver, dns.message, dns.rrset
class H(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.7"))
        sock.sendto(r.to_wire(), self.client_address)
socketserver.UDPServer(("0.0.0.0", 5353), H).serve_forever()
"""


def test_an_upstream_is_asked_only_when_configured(make_lab):
    import subprocess
    import sys

    def with_upstream(name, now):
        c = seed_cluster(name, now)
        c.dns_upstream = "192.168.0.100:5353"      # a resolver of the user's, here on the client host
        return c
    lab = make_lab(with_upstream)
    server = subprocess.Popen(["ip", "netns", "exec", layout.host_ns(lab.name, "client"), sys.executable, "-c",
                               UPSTREAM])
    try:
        pod = pod_ns(lab.cluster(), BM)
        ask = ["dig", "+tries=1", "+time=3", "+short", "www.example.com"]
        assert eventually(lambda: sh(pod, *ask, check=False).stdout.strip() == "192.0.2.7", timeout=6)
        assert dig(pod, "+short", "data-product.default.svc.cluster.local").strip() == "10.254.116.224"
    finally:
        server.kill()
        server.wait()


def test_every_query_to_a_service_without_endpoints_is_refused_at_once(make_lab):
    """kube-proxy's REJECT answers each packet: the kernel's default limit of one ICMP error
    a second per destination would leave the second query in silence (a client waits out
    its resolver's 5 s; the lab's own start-up did, one time in three)."""
    lab = make_lab(seed_cluster)
    pod = pod_ns(lab.cluster(), BM)
    netlab("scale", "deployment", "kube-dns", "-n", "kube-system", "--replicas", "0", "--name", lab.name)
    ask = ["dig", "+tries=1", "+time=1", "data-product.default.svc.cluster.local"]
    # (the kernel lets a burst of 6 errors through before it limits them)
    answers = [sh(pod, *ask, check=False).stdout for _ in range(10)]
    assert all("connection refused" in a for a in answers), [a for a in answers if "connection refused" not in a]
