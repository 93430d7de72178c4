"""kube-proxy's rules at work: what a user sees connecting to Services in the seed lab."""
import os
import subprocess
import time

import pytest

from netlab import layout
from netlab.kernel import iptables
from netlab.kube_proxy import build
from netlab.model.seed import seed_cluster

from helpers import apply, connect, host_snapshot, netlab, ping_failure, ping_result, pod_ns, running, scale_under_load, sh, SOLO_POD, tool

DP = "10.254.116.224:50051"
DP_PODS = {"data-product-6664c6dcb9-4zk27", "data-product-6664c6dcb9-7bn7p", "data-product-6664c6dcb9-tkmms"}


@pytest.mark.parametrize("client", ["business-manager-666f454f7f-7l86b", "business-manager-666f454f7f-zxmsx"])
def test_cluster_ip_spreads_300_connections_over_all_endpoints(seed_lab, client):
    c = seed_lab.cluster()
    node = next(p.node for p in c.pods if p.name == client)
    node_ns = layout.node_ns(c.name, node)
    before = sum(pk for _, pk, _ in _sep_counters(c, node_ns))
    r = connect(pod_ns(c, client), DP, "--count", "300")
    assert r["failed"] == 0 and r["ok"] == 300
    assert set(r["by"]) == DP_PODS                      # node2's pod too, over VXLAN
    assert min(r["by"].values()) >= 45, r["by"]         # each at least 15%
    # python-iptables reads the counters: each connection was DNATed once by this node's rules
    assert sum(pk for _, pk, _ in _sep_counters(c, node_ns)) - before == 300


def _sep_counters(c, node_ns):
    rules = build(c, "node1")["nat"].chains
    chains = [ch for ch, lines in rules.items() if ch.startswith("KUBE-SEP-") and lines[-1].endswith(":50051")]
    assert len(chains) == 3
    return [x for ch in chains for x in iptables.counters(node_ns, "nat", ch) if x[0] == "DNAT"]


def test_node_port_from_client_on_both_nodes(seed_lab):
    """30799 and 31522 on every node reach the ingress's nginx (its default server: 404)."""
    client = layout.host_ns(seed_lab.name, "client")
    for node_ip in ("192.168.0.21", "192.168.0.22"):
        for url in (f"http://{node_ip}:30799/", f"https://{node_ip}:31522/"):
            r = sh(client, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}", url)
            assert r.stdout == f"404 {node_ip}"


def test_cluster_ip_answers_no_ping(seed_lab):
    """A cluster IP is no one's address: kube-proxy's rules match its ports only, so an echo
    request is routed like any other packet, out of the node to the lab's router, which has no
    route to the service network (not a REJECT of kube-proxy's: that would be port-unreachable)."""
    c = seed_lab.cluster()
    r = ping_result(pod_ns(c, "business-manager-666f454f7f-7l86b"), "10.254.116.224", wait=1)
    assert ping_failure(r) == (1, 0, [("192.168.0.1", "Destination Net Unreachable")]), r.stdout


def test_the_kubernetes_service_leads_to_the_first_nodes_api_port_on_every_node(seed_lab):
    c = seed_lab.cluster()
    for node in ("node1", "node2"):
        nat = sh(layout.node_ns(c.name, node), "iptables-legacy-save", "-t", "nat").stdout
        assert '--comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y' in nat
        assert "-A KUBE-SVC-NPX46M4PTMTKRN6Y -j KUBE-SEP-" in nat
        assert "-j DNAT --to-destination 192.168.0.21:6443" in nat
        filt = sh(layout.node_ns(c.name, node), "iptables-legacy-save", "-t", "filter").stdout
        assert "default/kubernetes:https has no endpoints" not in filt


def test_mysql_service_reaches_the_db_host(seed_lab):
    c = seed_lab.cluster()
    r = connect(pod_ns(c, "data-product-6664c6dcb9-tkmms"), "10.254.84.209:3306", "--count", "2")
    assert r["by"] == {"mysql": 2}                   # the db host's MariaDB greets


def test_each_node_holds_exactly_netlabs_chains_and_the_host_none(seed_lab):
    c = seed_lab.cluster()
    for node in c.nodes:
        save = sh(layout.node_ns(c.name, node.name), "iptables-legacy-save").stdout
        chains = {line[1:].split()[0] for line in save.splitlines() if line.startswith(":")}
        want = build(c, node.name, endpoints=c.endpoints)
        builtin = {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD"}
        assert chains - builtin == set(want["nat"].chains) | set(want["filter"].chains)
        # as the walk-through shows it: five decimals as the kernel keeps them, no comment
        assert '-A KUBE-SVC-45TXGSBX3LGQQRTB -m statistic --mode random --probability 0.33332999982 -j KUBE-SEP-' \
            in save
    root = subprocess.run(["iptables-legacy-save"], capture_output=True, text=True).stdout
    assert "KUBE-" not in root and "NETLAB" not in root       # nothing of ours in the host's namespace


WALKTHROUGH = os.path.join(os.path.dirname(__file__), "..", "data", "walkthrough-iptables.txt")


def test_the_walk_throughs_rule_lines_are_in_every_nodes_iptables_save(make_lab):
    """What a reader of the walk-through compares: its iptables-save lines, byte for byte;
    the kube-dns REJECT lines once kube-dns has no endpoints, as when the walk-through ran it."""
    with open(WALKTHROUGH) as f:
        lines = [line.rstrip("\n") for line in f if line.startswith("-A ")]
    lab = make_lab(seed_cluster)
    c = lab.cluster()

    def missing() -> dict[str, list[str]]:
        out = {}
        for node in c.nodes:
            save = set(sh(layout.node_ns(c.name, node.name), "iptables-legacy-save").stdout.splitlines())
            out[node.name] = [line for line in lines if line not in save]
        return out
    assert missing() == {n.name: [line for line in lines if "kube-dns" in line] for n in c.nodes}
    netlab("scale", "deployment", "kube-dns", "-n", "kube-system", "--replicas", "0", "--name", lab.name)
    assert missing() == {n.name: [] for n in c.nodes}


# ---- changes: each test has a lab of its own ------------------------------------------

LOCAL = SOLO_POD + """apiVersion: v1
kind: Service
metadata: {name: solo-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
"""


def test_local_policy_keeps_the_client_address_and_drops_where_no_endpoint(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, LOCAL)
    client = layout.host_ns(lab.name, "client")
    r = connect(client, "192.168.0.22:30080", "--count", "3", "--full")
    assert r["ok"] == 3 and all(line.endswith("from 192.168.0.100") for line in r["by"])
    r = connect(client, "192.168.0.21:30080", "--count", "1", "--timeout", "1")
    assert r["failed"] == 1 and "timed out" in r["errors"][0]       # dropped, not refused


def test_client_ip_affinity_pins_50_connections(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, """
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: data-product}
  sessionAffinity: ClientIP
  ports: [{name: grpc, port: 9000, targetPort: 50051}]
""")
    c = lab.cluster()
    ip = next(s.cluster_ip for s in c.services if s.name == "sticky")
    r = connect(pod_ns(c, "business-manager-666f454f7f-7l86b"), f"{ip}:9000", "--count", "50")
    assert r["ok"] == 50 and len(r["by"]) == 1, r["by"]


def test_hairpin_a_pod_reaches_itself_through_its_service(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, LOCAL.split("---")[0] + """---
apiVersion: v1
kind: Service
metadata: {name: solo}
spec:
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: 8080}]
""")
    c = lab.cluster()
    ip = next(s.cluster_ip for s in c.services if s.name == "solo")
    r = connect(pod_ns(c, "solo"), f"{ip}:80", "--count", "5", "--full")
    assert r["ok"] == 5 and [line.split()[0] for line in r["by"]] == ["solo"]
    # the answer comes back through docker0 (masqueraded), not straight inside the pod
    assert all(line.endswith("from 172.30.9.1") for line in r["by"]), r["by"]


def test_load_balancer_reachable_from_client_at_its_external_ip(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, """
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  type: LoadBalancer
  selector: {app: data-product}
  ports: [{name: grpc, port: 80, targetPort: 50051}]
""")
    svc = next(s for s in lab.cluster().services if s.name == "shop")
    assert svc.load_balancer_ip.startswith("192.168.0.2") and 200 <= int(svc.load_balancer_ip.split(".")[3]) <= 250
    row = next(r.split() for r in netlab("get", "svc", "--name", lab.name).stdout.splitlines() if r.startswith("shop"))
    assert row[1:4] == ["LoadBalancer", svc.cluster_ip, svc.load_balancer_ip]
    r = connect(layout.host_ns(lab.name, "client"), f"{svc.load_balancer_ip}:80", "--count", "30")
    assert r["failed"] == 0 and set(r["by"]) <= DP_PODS and len(r["by"]) >= 2


def test_endpoints_change_moves_mysql_traffic(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    c = lab.cluster()
    # a second database host: the client machine, serving 3306
    with running(layout.host_ns(c.name, "client"), tool("netlab-whoami"), "--name", "replica", "--port", "3306"):
        pod = pod_ns(c, "data-product-6664c6dcb9-4zk27")
        assert connect(pod, "10.254.84.209:3306", "--count", "2")["by"] == {"mysql": 2}
        apply(lab.name, tmp_path, """
apiVersion: v1
kind: Endpoints
metadata: {name: mysql}
subsets: [{addresses: [{ip: 192.168.0.100}], ports: [{port: 3306}]}]
""")
        assert connect(pod, "10.254.84.209:3306", "--count", "2")["by"] == {"replica": 2}
        # two read replicas: the service balances between them
        apply(lab.name, tmp_path, """
apiVersion: v1
kind: Endpoints
metadata: {name: mysql}
subsets: [{addresses: [{ip: 192.168.0.100}, {ip: 192.168.0.103}], ports: [{port: 3306}]}]
""")
        assert set(connect(pod, "10.254.84.209:3306", "--count", "40")["by"]) == {"replica", "mysql"}


def test_scaling_3_1_5_3_ten_times_fails_no_connection(make_lab):
    lab = make_lab(seed_cluster)
    r = scale_under_load(lab.name, pod_ns(lab.cluster(), "business-manager-666f454f7f-7l86b"), DP, rounds=10)
    assert r["ok"] > 200 and r["failed"] == 0, r
    assert len([p for p in lab.cluster().pods if p.owner == "data-product"]) == 3


def test_root_namespace_untouched_by_service_changes(make_lab, tmp_path):
    before = host_snapshot()
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, LOCAL)
    netlab("scale", "deployment", "data-product", "--replicas", "4", "--name", lab.name)
    assert host_snapshot() == before


def test_db_read_write_example_splits_reads_from_writes(make_lab):
    lab = make_lab(seed_cluster)
    with running(layout.host_ns(lab.name, "client"), tool("netlab-whoami"), "--name", "replica", "--port", "3306"):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "db-read-write.yaml")
        netlab("apply", "-f", example, "--name", lab.name)
        c = lab.cluster()
        ip = {s.name: s.cluster_ip for s in c.services}
        pod = pod_ns(c, "data-product-6664c6dcb9-4zk27")
        assert connect(pod, f"{ip['db-write']}:3306", "--count", "10")["by"] == {"mysql": 10}
        assert set(connect(pod, f"{ip['db-read']}:3306", "--count", "40")["by"]) == {"mysql", "replica"}


def test_external_ip_routed_to_a_node_reaches_the_service(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, """
apiVersion: v1
kind: Service
metadata: {name: public}
spec:
  selector: {app: data-product}
  externalIPs: [192.168.0.150]
  ports: [{name: grpc, port: 8000, targetPort: 50051}]
""")
    row = next(r.split() for r in netlab("get", "svc", "public", "--name", lab.name).stdout.splitlines()[1:])
    assert row[3] == "192.168.0.150" and row[4] == "8000/TCP"
    r = connect(layout.host_ns(lab.name, "client"), "192.168.0.150:8000", "--count", "20")
    assert r["failed"] == 0 and set(r["by"]) <= DP_PODS


def test_invalid_manifests_change_nothing(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    state = lab.state()["cluster"]
    rules = {n: sh(layout.node_ns(lab.name, n), "iptables-legacy-save").stdout for n in ("node1", "node2")}
    strip = lambda text: [x for x in text.splitlines() if x.startswith("-A")]  # noqa: E731
    bad_field = """
apiVersion: v1
kind: Service
metadata: {name: fine}
spec: {selector: {app: x}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: broken}
spec: {ports: [{port: 80, nodePort: "high"}]}
"""
    out_of_range = """
apiVersion: v1
kind: Service
metadata: {name: far}
spec: {type: NodePort, selector: {app: x}, ports: [{port: 80, nodePort: 40000}]}
"""
    for text, reason in ((bad_field, "document 2: spec.ports[0].nodePort: 'high' must be a int"),
                         (out_of_range, "spec.ports[0].nodePort: 40000 is outside the NodePort range 30000-32767")):
        f = tmp_path / "bad.yaml"
        f.write_text(text)
        r = netlab("apply", "-f", str(f), "--name", lab.name, check=False)
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and reason in r.stderr, r.stderr
        assert lab.state()["cluster"] == state
        for n in ("node1", "node2"):
            assert strip(sh(layout.node_ns(lab.name, n), "iptables-legacy-save").stdout) == strip(rules[n])


def test_describe_and_ten_decimal_probabilities(make_lab):
    def ten(name, now):
        c = seed_cluster(name, now)
        c.probability_decimals = 10
        return c
    lab = make_lab(ten)
    text = netlab("describe", "svc", "ingress-nginx", "-n", "ingress-nginx", "--name", lab.name).stdout
    for line in ("Selector:                 app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/part-of=ingress-nginx",
                 "Endpoints:                172.30.76.2:80", "Endpoints:                172.30.76.2:443",
                 "Session Affinity:         None", "External Traffic Policy:  Cluster",
                 "NodePort:                 http  30799/TCP"):
        assert line in text.splitlines()
    save = sh(layout.node_ns(lab.name, "node1"), "iptables-legacy-save", "-t", "nat").stdout
    assert "--probability 0.33333333349 -j KUBE-SEP-" in save


def test_deleting_a_pod_by_hand_updates_endpoints_everywhere(make_lab):
    lab = make_lab(seed_cluster)
    netlab("delete", "pod", "data-product-6664c6dcb9-tkmms", "--name", lab.name)
    c = lab.cluster()
    dp = [p for p in c.pods if p.owner == "data-product"]
    assert len(dp) == 3 and "data-product-6664c6dcb9-tkmms" not in {p.name for p in dp}
    r = connect(pod_ns(c, "business-manager-666f454f7f-zxmsx"), DP, "--count", "60")
    assert r["failed"] == 0 and set(r["by"]) == {p.name for p in dp}


def test_reapplied_pod_with_a_new_spec_is_replaced_and_delete_f_removes(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, LOCAL)
    first = next(p for p in lab.cluster().pods if p.name == "solo")
    moved = LOCAL.replace("nodeName: node2", "nodeName: node1").replace('"8080"]', '"8080", --name, solo-v2]')
    apply(lab.name, tmp_path, moved.split("---")[0])
    solo = next(p for p in lab.cluster().pods if p.name == "solo")
    assert (first.node, solo.node) == ("node2", "node1") and solo.ip.startswith("172.30.76.")
    addr = sh(pod_ns(lab.cluster(), "solo"), "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert f"{solo.ip}/24" in addr                          # the kernel follows the model
    r = connect(layout.host_ns(lab.name, "client"), "192.168.0.21:30080", "--count", "2")
    assert r["by"] == {"solo-v2": 2}
    age = next(r.split()[-1] for r in netlab("get", "svc", "--name", lab.name).stdout.splitlines()
               if r.startswith("solo-local"))
    assert age.endswith("s") and int(age[:-1]) < 60
    f = tmp_path / "local.yaml"
    f.write_text(LOCAL)
    out = netlab("delete", "-f", str(f), "--name", lab.name).stdout
    assert "pod/solo deleted" in out and "service/solo-local deleted" in out
    c = lab.cluster()
    assert "solo" not in {p.name for p in c.pods} and "solo-local" not in {s.name for s in c.services}
    assert not os.path.exists(f"/run/netns/{layout.pod_ns(c.name, first)}")


def test_node_port_without_endpoints_is_refused_from_outside(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    apply(lab.name, tmp_path, """
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {app: nobody-has-this-label}
  ports: [{name: http, port: 80, nodePort: 30555}]
""")
    t = time.monotonic()
    r = connect(layout.host_ns(lab.name, "client"), "192.168.0.22:30555", "--count", "1", "--timeout", "5")
    assert r["failed"] == 1 and "ConnectionRefusedError" in r["errors"][0] and time.monotonic() - t < 2
    save = sh(layout.node_ns(lab.name, "node2"), "iptables-legacy-save", "-t", "filter").stdout
    assert '"default/nobody:http has no endpoints"' in save and "--dport 30555" in save
    # and its cluster IP from a pod: refused at once too (REJECT, not a 5 s time-out)
    ip = next(s.cluster_ip for s in lab.cluster().services if s.name == "nobody")
    t = time.monotonic()
    r = connect(pod_ns(lab.cluster(), "data-product-6664c6dcb9-4zk27"), f"{ip}:80", "--count", "1", "--timeout", "5")
    assert r["failed"] == 1 and "ConnectionRefusedError" in r["errors"][0] and time.monotonic() - t < 2
