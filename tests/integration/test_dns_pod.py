"""The kube-dns pod of four containers: dnsmasq answers through 10.254.0.2 from its cache,
kubedns behind it holds the records, a container that dies comes back, none outlives the pod."""
import json
import os
import signal
import time

from netlab import pod_status, probe
from netlab.kernel import process
from netlab.model.seed import seed_cluster
from netlab.state import LabDir

from helpers import apply, eventually, netlab, pod_ns, sh

BM = "business-manager-666f454f7f-7l86b"          # on node1; kube-dns is on node2
KUBE_DNS = "kube-dns-7cd94476cd-kr76t"


def containers(lab) -> dict:
    path = pod_status.path(LabDir(lab.name).pod_dir("kube-system", KUBE_DNS))
    return {c["name"]: c for c in json.loads(path.read_text())["containers"]}


def in_pod(lab) -> dict[int, str]:
    """The kube-dns pod's processes as the host sees them: pid -> command name (the status
    file's pids are the pod's own, in its PID namespace)."""
    shim = process.Proc(**lab.state()["procs"][f"pod/kube-system/{KUBE_DNS}"])
    return {pid: open(f"/proc/{pid}/comm").read().strip() for pid in process.descendants(shim.pid)
            if alive(pid)}


def kube_dns_row(lab) -> list[str]:
    out = netlab("get", "pods", "-n", "kube-system", "--name", lab.name).stdout.splitlines()
    return next(r.split() for r in out if r.startswith(KUBE_DNS))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_four_containers_ready_and_listed(seed_lab):
    assert eventually(lambda: kube_dns_row(seed_lab)[1:3] == ["4/4", "Running"], timeout=3), kube_dns_row(seed_lab)
    text = netlab("describe", "pod", KUBE_DNS, "-n", "kube-system", "--name", seed_lab.name).stdout
    for name in ("kubedns", "dnsmasq", "dnsmasq-metrics", "healthz"):
        assert f"\n  {name}:\n" in text, name
    assert "--server=/cluster.local/127.0.0.1#10053" in text
    assert set(containers(seed_lab)) == {"kubedns", "dnsmasq", "dnsmasq-metrics", "healthz"}
    ps = in_pod(seed_lab)
    assert "dnsmasq" in ps.values()
    assert {os.stat(f"/proc/{pid}").st_uid for pid in ps} & {0} == set()     # the pod's user, all of them
    dns = pod_ns(seed_lab.cluster(), KUBE_DNS)
    assert "kubedns_dnsmasq_hits" in sh(dns, "curl", "-s", "http://127.0.0.1:10054/metrics").stdout
    r = sh(dns, "curl", "-s", "-w", " %{http_code}", "http://127.0.0.1:8080/healthz-kubedns")
    assert r.stdout.endswith(" 200") and "10.254.0.1" in r.stdout


def test_the_second_identical_query_is_answered_by_dnsmasqs_cache(seed_lab):
    c = seed_lab.cluster()
    pod, dns = pod_ns(c, BM), pod_ns(c, KUBE_DNS)
    name = "_data-product._tcp.data-product.default.svc.cluster.local"
    ask = ["dig", "+tries=1", "+time=2", "+short", "SRV", name]
    # the first goes on to kubedns (on the pod's loopback, port 10053), the second does not
    with probe.capture(dns, "lo", timeout=1.5, bpf="udp dst port 10053") as first:
        assert sh(pod, *ask).stdout.split() == ["0", "100", "50051", "data-product.default.svc.cluster.local."]
    with probe.capture(dns, "lo", timeout=1.5, bpf="udp dst port 10053") as second:
        assert sh(pod, *ask).stdout.split() == ["0", "100", "50051", "data-product.default.svc.cluster.local."]

    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))

    def asked(cap):          # (scapy decodes DNS on port 53 only: the name as it is on the wire)
        return [p for p in cap.packets() if p.haslayer("UDP") and wire in bytes(p["UDP"].payload)]
    assert len(asked(first)) == 1 and asked(second) == []


def test_nxdomain_is_not_cached_and_a_new_service_is_seen_at_once(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    pod = pod_ns(lab.cluster(), BM)
    ask = ["dig", "+tries=1", "+time=2", "late.default.svc.cluster.local"]
    assert "status: NXDOMAIN" in sh(pod, *ask).stdout
    late = tmp_path / "late.yaml"
    late.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: late}\n"
                    "spec: {clusterIP: 10.254.7.7, ports: [{port: 80}]}\n")
    netlab("apply", "-f", str(late), "--name", lab.name)
    assert eventually(lambda: "10.254.7.7" in sh(pod, *ask).stdout, timeout=1.0)
    assert "10.254.7.7" in sh(pod, *ask).stdout          # now from dnsmasq's cache (TTL 5 s)
    netlab("delete", "-f", str(late), "--name", lab.name)
    t = time.monotonic()
    # the cached answer goes with the Service: dnsmasq's cache is cleared when the records change
    assert eventually(lambda: "status: NXDOMAIN" in sh(pod, *ask).stdout, timeout=1.0)
    assert time.monotonic() - t < 1.5


MANY = """
apiVersion: v1
kind: Service
metadata: {name: many}
spec: {clusterIP: None, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: many}
subsets:
- addresses: [%s]
  ports: [{name: http, port: 80}]
"""


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp_through_the_cache(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    ips = [f"192.168.0.{i}" for i in range(150, 190)]
    apply(lab.name, tmp_path, MANY % ", ".join(f"{{ip: {ip}}}" for ip in ips))
    pod = pod_ns(lab.cluster(), BM)
    qname = "many.default.svc.cluster.local"
    assert eventually(lambda: len(sh(pod, "dig", "+tcp", "+short", qname).stdout.split()) == 40, timeout=2)
    udp = sh(pod, "dig", "+tries=1", "+time=2", "+noedns", "+ignore", qname).stdout
    assert " tc" in udp.split("flags:")[1].split(";")[0], udp
    assert sorted(sh(pod, "dig", "+short", qname).stdout.split()) == sorted(ips)    # dig retries over TCP


def test_a_killed_dnsmasq_is_restarted_and_none_outlives_the_pod(make_lab):
    lab = make_lab(seed_cluster)
    pod = pod_ns(lab.cluster(), BM)
    ask = ["dig", "+tries=1", "+time=1", "+short", "data-product.default.svc.cluster.local"]
    assert eventually(lambda: kube_dns_row(lab)[1] == "4/4", timeout=3)
    before = containers(lab)["dnsmasq"]
    [dnsmasq] = [pid for pid, comm in in_pod(lab).items() if comm == "dnsmasq"]
    os.kill(dnsmasq, signal.SIGKILL)
    assert eventually(lambda: kube_dns_row(lab)[1:4] == ["4/4", "Running", "1"], timeout=5), kube_dns_row(lab)
    after = containers(lab)["dnsmasq"]
    assert after["pid"] != before["pid"] and after["restarts"] == 1 and after["last"] == "killed by signal 9"
    # READY is the containers' (the runtime's probes); the Service's Endpoints follow the pod's
    # readiness as the kubelet probes it, every 0.5 s: the Service answers again within a period or two
    assert eventually(lambda: sh(pod, *ask, check=False).stdout.strip() == "10.254.116.224", timeout=2)
    text = netlab("describe", "pod", KUBE_DNS, "-n", "kube-system", "--name", lab.name).stdout
    dnsmasq = text.split("\n  dnsmasq:\n")[1].split("\n  dnsmasq-metrics:\n")[0]
    assert "Restart Count:  1" in dnsmasq and "killed by signal 9" in dnsmasq
    # the pod's shim killed outright: its containers go with it (dnsmasq too, though it changed its user)
    pids = list(in_pod(lab))
    assert len(pids) >= 5                   # the runtime and its four containers
    os.kill(lab.state()["procs"][f"pod/kube-system/{KUBE_DNS}"]["pid"], signal.SIGKILL)
    assert eventually(lambda: not any(alive(p) for p in pids), timeout=2), [p for p in pids if alive(p)]
    # and the kubelet starts the pod again, whose dnsmasq can bind port 53 again
    assert eventually(lambda: sh(pod, *ask, check=False).stdout.strip() == "10.254.116.224", timeout=8)
