"""The Service behaviour suite, run on each kube-proxy flavour (iptables-seed, today's
iptables and today's nftables proxier): what a user sees connecting to Services, whatever
dataplane carries them. One lab per flavour, shared by its tests; they only read it, but
for the churn test, which leaves it as it found it."""
import json
import subprocess
import re
import time

import pytest

from netlab import layout
from netlab.kube_proxy import flavours, nftables
from netlab.lab import Lab
from netlab.model import manifests, store
from netlab.model.seed import seed_cluster
from netlab.state import LabDir

from helpers import connect, leftovers, netlab, pod_ns, scale_under_load, sh, SOLO_POD, unique

FLAVOURS = ("iptables-seed", "iptables", "nftables")
DP = "10.254.116.224:50051"
DP_PODS = {"data-product-6664c6dcb9-4zk27", "data-product-6664c6dcb9-7bn7p", "data-product-6664c6dcb9-tkmms"}
CLIENT_POD = "business-manager-666f454f7f-7l86b"        # on node1
EXTRA = SOLO_POD + """apiVersion: v1
kind: Service
metadata: {name: solo-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: solo}
spec:
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: data-product}
  sessionAffinity: ClientIP
  ports: [{name: grpc, port: 9000, targetPort: 50051}]
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  type: LoadBalancer
  selector: {app: data-product}
  ports: [{name: grpc, port: 80, targetPort: 50051}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {app: nobody-has-this-label}
  ports: [{name: http, port: 80, nodePort: 30555}]
"""


@pytest.fixture(scope="module", params=FLAVOURS)
def lab(request, tmp_path_factory):
    name = unique("f")
    path = tmp_path_factory.mktemp("flavour") / "extra.yaml"
    path.write_text(EXTRA)
    c = seed_cluster(name, time.time())
    c.proxy_mode = request.param
    store.apply(c, manifests.load(path))
    lab = Lab.up(c)
    try:
        yield lab
    finally:
        if LabDir(name).exists():
            lab.down()
        assert leftovers(name) == []


def _svc(lab, name):
    return next(s for s in lab.cluster().services if s.name == name)


def _client(lab):
    return layout.host_ns(lab.name, "client")


def test_the_flavour_is_the_one_asked_for_and_its_dataplane_alone_is_there(lab):
    mode = lab.cluster().proxy_mode
    assert netlab("proxy", "show", "--name", lab.name).stdout.startswith(mode + "\t")
    for node in ("node1", "node2"):
        ns = layout.node_ns(lab.name, node)
        saved = sh(ns, "iptables-legacy-save").stdout
        tables = sh(ns, "nft", "list", "tables").stdout
        if mode == "nftables":
            assert "KUBE-" not in saved and "table ip kube-proxy" in tables
        else:
            assert "-j KUBE-SERVICES" in saved and "kube-proxy" not in tables
        # the seed's KUBE-XLB chains, today's KUBE-SVL/KUBE-EXT ones: each flavour its own
        assert (":KUBE-XLB-" in saved) == (mode == "iptables-seed")
        assert (":KUBE-EXT-" in saved) == (mode == "iptables")
        # netlab proxy show --node: kube-proxy's part of what the kernel holds, and nothing else
        shown = netlab("proxy", "show", "--node", node, "--name", lab.name).stdout
        if mode == "nftables":
            assert shown.startswith("table ip kube-proxy {") and "chain services {" in shown
        else:
            rules = [line for line in shown.splitlines() if line.startswith("-A ")]
            assert "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" in rules
            assert rules == [line for line in saved.splitlines() if line in set(rules)]     # as saved, in order
            assert all("KUBE-" in line for line in rules) and "MASQUERADE" in saved


def test_cluster_ip_spreads_300_connections_over_every_endpoint_on_both_nodes(lab):
    r = connect(pod_ns(lab.cluster(), CLIENT_POD), DP, "--count", "300")
    assert r["failed"] == 0 and set(r["by"]) == DP_PODS
    assert min(r["by"].values()) >= 45, r["by"]         # each at least 15%


def test_node_port_on_both_nodes_from_outside(lab):
    for node_ip in ("192.168.0.21", "192.168.0.22"):
        r = sh(_client(lab), "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", f"http://{node_ip}:30799/")
        assert r.stdout == "404"                   # the ingress controller's default server


def test_node_port_on_localhost_of_a_node_in_todays_iptables_flavour_only(lab):
    """Today's iptables proxier serves NodePorts on 127.0.0.1 too (route_localnet); the
    seed's and the nftables proxier do not."""
    node = layout.node_ns(lab.name, "node1")
    r = sh(node, "curl", "-s", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:30799/",
           check=False)
    assert sh(node, "sysctl", "-n", "net.ipv4.conf.all.route_localnet").stdout.strip() == \
        ("1" if lab.cluster().proxy_mode == "iptables" else "0")
    if lab.cluster().proxy_mode == "iptables":
        assert r.stdout == "404"
    else:
        assert r.returncode != 0 and r.stdout == "000", (r.returncode, r.stdout)


def test_load_balancer_from_outside_reaches_several_endpoints(lab):
    svc = _svc(lab, "shop")
    r = connect(_client(lab), f"{svc.load_balancer_ip}:80", "--count", "30")
    assert r["failed"] == 0 and set(r["by"]) <= DP_PODS and len(r["by"]) >= 2


def test_local_policy_keeps_the_client_address_and_drops_where_no_endpoint(lab):
    r = connect(_client(lab), "192.168.0.22:30080", "--count", "3", "--full")
    assert r["ok"] == 3 and all(line.endswith("from 192.168.0.100") for line in r["by"]), r
    r = connect(_client(lab), "192.168.0.21:30080", "--count", "1", "--timeout", "1")
    assert r["failed"] == 1 and "timed out" in r["errors"][0]       # dropped, not refused


def test_client_ip_affinity_pins_50_connections(lab):
    r = connect(pod_ns(lab.cluster(), CLIENT_POD), f"{_svc(lab, 'sticky').cluster_ip}:9000", "--count", "50")
    assert r["ok"] == 50 and len(r["by"]) == 1, r["by"]


def test_hairpin_a_pod_reaches_itself_through_its_service_masqueraded(lab):
    r = connect(pod_ns(lab.cluster(), "solo"), f"{_svc(lab, 'solo').cluster_ip}:80", "--count", "5", "--full")
    assert r["ok"] == 5 and [line.split()[0] for line in r["by"]] == ["solo"]
    assert all(line.endswith("from 172.30.9.1") for line in r["by"]), r["by"]     # node2's docker0


def test_no_endpoints_is_refused_from_outside_and_from_a_pod(lab):
    r = connect(_client(lab), "192.168.0.22:30555", "--count", "1", "--timeout", "5")
    assert r["failed"] == 1 and "ConnectionRefusedError" in r["errors"][0], r
    r = connect(pod_ns(lab.cluster(), CLIENT_POD), f"{_svc(lab, 'nobody').cluster_ip}:80", "--count", "1",
                "--timeout", "5")
    assert r["failed"] == 1 and "ConnectionRefusedError" in r["errors"][0], r


def test_the_health_check_node_port_says_where_the_local_endpoint_is(lab):
    port = _svc(lab, "solo-local").health_check_node_port
    assert port
    answers = {}
    for node_ip in ("192.168.0.21", "192.168.0.22"):
        r = sh(_client(lab), "curl", "-s", "-w", "\n%{http_code}", f"http://{node_ip}:{port}/healthz")
        body, code = r.stdout.rsplit("\n", 1)
        answers[node_ip] = (code, json.loads(body)["localEndpoints"], json.loads(body)["service"])
    svc = {"namespace": "default", "name": "solo-local"}
    assert answers == {"192.168.0.21": ("503", 0, svc), "192.168.0.22": ("200", 1, svc)}


def test_trace_shows_the_rules_of_the_flavour_the_request_met(lab):
    out = json.loads(netlab("trace", CLIENT_POD, "data-product", "-o", "json", "--name", lab.name).stdout)
    assert out["result"] == "answered"
    node = next(h for h in out["hops"] if h["where"] == "node1")
    rules = [e["text"] for e in node["evidence"] if e["kind"] == "rule"]
    endpoint = node["what"].split(" to ")[1].split(";")[0].split()[0]           # ip:port the request went to
    if lab.cluster().proxy_mode == "nftables":
        assert [r.split()[1].split("-")[0].rstrip(":") for r in rules] == ["services", "service", "endpoint"], rules
        assert rules[-1].endswith(f"dnat to {endpoint}")
    else:
        assert any("-j KUBE-SVC-" in r for r in rules), rules
        assert any(r.endswith(f"-j DNAT --to-destination {endpoint}") for r in rules), rules


def test_scaling_3_1_5_3_twice_under_load_fails_no_connection(lab):
    r = scale_under_load(lab.name, pod_ns(lab.cluster(), CLIENT_POD), DP, rounds=2)
    assert r["ok"] > 100 and r["failed"] == 0, r


def _chains(listing: str) -> dict[str, bool]:
    """chain name -> has rules, from `nft list table`."""
    found = re.findall(r"^\tchain (\S+) \{\n(.*?)^\t\}", listing, re.M | re.S)
    return {name: bool(re.search(r"^\t\t(?!type )\S", body, re.M)) for name, body in found}


def test_nftables_chains_a_change_stops_using_are_deleted_a_sync_later_and_none_is_left(lab):
    """Scaling down takes several syncs: the removed endpoints' chains, flushed by the
    first, are deleted by the next; a deletion of a chain already gone is no error."""
    if lab.cluster().proxy_mode != "nftables":
        pytest.skip("nftables flavour only: its stale chains")
    ns = layout.node_ns(lab.name, "node1")

    def kernel_and_wanted():
        want = flavours.desired(lab.cluster())["node1"].nft
        return _chains(sh(ns, "nft", "list", "table", "ip", "kube-proxy").stdout), set(want.chains)

    before, _ = kernel_and_wanted()
    try:
        netlab("scale", "deployment", "data-product", "--replicas", "2", "--name", lab.name)
        have, want = kernel_and_wanted()
        gone = set(before) - want
        assert gone and all(n.startswith("endpoint-") for n in gone)      # the removed pod's, one per port
        assert set(have) == want and all(have[n] for n in want if n.startswith("endpoint-"))
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=nftables.stale_deletes(sorted(gone)),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert set(kernel_and_wanted()[0]) == want
    finally:
        netlab("scale", "deployment", "data-product", "--replicas", "3", "--name", lab.name)
    have, want = kernel_and_wanted()
    assert set(have) == want
