"""The kube-dns pod of the walk-through's era: its containers, dnsmasq's command line,
the status file get/describe read (pure parts; the pod itself: tests/integration/test_dns.py).

Golden files: tests/unit/golden/dns/*.txt (NETLAB_UPDATE_GOLDEN=1 rewrites them)."""
import shlex
from pathlib import Path

import golden_files
from netlab import output, pod_status
from netlab.dns import addon, sidecar
from netlab.model.objects import Cluster
from netlab.model.seed import seed_cluster

GOLDEN = Path(__file__).parent / "golden" / "dns"
KUBE_DNS = "kube-dns-7cd94476cd-kr76t"


def _command_lines(containers) -> str:
    return "".join(f"{c.name}: {shlex.join(c.argv)}\n" for c in containers)


def test_the_pods_containers_golden():
    seed = addon.containers("cluster.local", "172.30.9.4", "dnsmasq", None, notify_fd=4)
    upstream = addon.containers("cluster.local", "172.30.9.4", "dnsmasq", "192.168.0.100:5353", notify_fd=4)
    golden_files.check(GOLDEN / "kube-dns-pod.txt", _command_lines(seed))
    golden_files.check(GOLDEN / "kube-dns-pod-upstream.txt", _command_lines(upstream))


def test_dnsmasq_has_the_nannys_flags_and_stays_inside_the_lab():
    argv = addon.dnsmasq_argv("cluster.local", ["127.0.0.1", "172.30.9.4"], "dnsmasq")
    # what the add-on's dnsmasq-nanny passed it, in its order
    assert argv[:8] == ["dnsmasq", "-k", "--cache-size=1000", "--no-negcache", "--log-facility=-",
                        "--server=/cluster.local/127.0.0.1#10053", "--server=/in-addr.arpa/127.0.0.1#10053",
                        "--server=/ip6.arpa/127.0.0.1#10053"]
    for flag in ("--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces", "--user=dnsmasq",
                 "--pid-file=", "--listen-address=127.0.0.1", "--listen-address=172.30.9.4"):
        assert flag in argv, flag
    # every server it may ask is kubedns on the loopback: no upstream unless configured
    assert [a for a in argv if a.startswith("--server=")] == [a for a in argv if a.endswith("/127.0.0.1#10053")]


def test_an_upstream_only_when_the_cluster_names_one():
    assert addon.dnsmasq_argv("cluster.local", ["127.0.0.1"], "nobody", "192.168.0.100:5353")[-1] == \
        "--server=192.168.0.100#5353"
    assert addon.dnsmasq_argv("cluster.local", ["127.0.0.1"], "nobody", "10.1.2.3")[-1] == "--server=10.1.2.3#53"
    assert not any(a.startswith("--server=10") for a in addon.dnsmasq_argv("cluster.local", ["127.0.0.1"], "x"))


def test_another_zone_is_forwarded_to_kubedns_and_probed():
    cs = addon.containers("lab.example.", "10.0.0.5", "nobody")
    assert "--server=/lab.example/127.0.0.1#10053" in cs[1].argv
    assert "--domain=lab.example." in cs[0].argv and not any(a.startswith("--notify-fd") for a in cs[0].argv)
    assert "--probe=dnsmasq,127.0.0.1:53,kubernetes.default.svc.lab.example,5,A" in cs[2].argv
    # the loopback alone when the pod's address is unknown
    assert [a for a in addon.containers("cluster.local", "", "x")[1].argv if a.startswith("--listen")] == \
        ["--listen-address=127.0.0.1"]


def test_the_seeds_kube_dns_pod_is_the_add_ons_four_containers():
    c = seed_cluster()
    pod = next(p for p in c.pods if p.name == KUBE_DNS)
    assert pod.containers == ["kubedns", "dnsmasq", "dnsmasq-metrics", "healthz"]
    assert pod.command == ["netlab-kube-dns-pod"] and pod.run_as_user is None      # a user of its own
    assert sorted(set(pod.container_ports.values())) == [53, 8080, 10053, 10054]     # the kubelet probes each
    dep = next(d for d in c.deployments if d.name == "kube-dns")
    assert dep.template()["containers"] == pod.containers                          # its new pods too
    assert all(p.containers == [] and "containers" not in p.template() for p in c.pods if p is not pod)
    assert Cluster.from_dict(c.to_dict()) == c


def test_a_state_file_without_containers_reads_as_one_container():
    d = seed_cluster().to_dict()
    for p in d["pods"] + d["deployments"]:
        p.pop("containers")
    c = Cluster.from_dict(d)
    assert all(p.containers == [] and p.container_names("x") == ["x"] for p in c.pods)


def test_status_file_is_read_only_from_the_pods_own_runtime(tmp_path):
    import os
    me = {"pid": os.getpid(), "start": pod_status._start_time(os.getpid())}
    rows = [{"name": "kubedns", "ready": True, "restarts": 0}, {"name": "dnsmasq", "ready": False, "restarts": 2}]
    pod_status.write(tmp_path, me["pid"], me["start"], rows)
    doc = pod_status.read(tmp_path, me)
    assert doc["containers"] == rows
    assert pod_status.read(tmp_path, {"pid": me["pid"], "start": me["start"] + 1}) is None     # another process
    assert pod_status.read(tmp_path, None) is None
    assert pod_status.read(tmp_path / "nowhere", me) is None
    got = pod_status.statuses(["kubedns", "dnsmasq", "healthz"], doc)
    assert [g["name"] for g in got] == ["kubedns", "dnsmasq", "healthz"] and got[2]["ready"] is False
    assert pod_status.ready_text(got) == "1/3" and pod_status.restarts(got) == 2
    assert pod_status.ready_text(pod_status.statuses(["a", "b"], None)) == "0/2"


def test_status_file_of_an_earlier_run_is_not_read(tmp_path):
    # the recorded process is the pod's shim; its runtime (PID 1 in the pod) starts after it
    import subprocess
    import time
    time.sleep(0.02)            # a tick or two after this process started
    shim = subprocess.Popen(["sleep", "30"])
    try:
        record = {"pid": shim.pid, "start": pod_status._start_time(shim.pid)}
        pod_status.write(tmp_path, 1, record["start"] - 1, [])       # the runtime before the restart
        assert pod_status.read(tmp_path, record) is None
        pod_status.write(tmp_path, 1, record["start"], [])           # the runtime under this shim
        assert pod_status.read(tmp_path, record)["pid"] == 1
    finally:
        shim.kill()
        shim.wait()


def _statuses():
    cs = addon.containers("cluster.local", "172.30.9.4", "dnsmasq", None, notify_fd=4)
    out = []
    for i, ct in enumerate(cs):
        s = {"name": ct.name, "ready": i != 1, "restarts": 1 if i == 1 else 0, "command": list(ct.argv),
             "ports": [list(p) for p in ct.ports]}
        s.update({"state": "waiting", "reason": "CrashLoopBackOff", "last": "killed by signal 9"} if i == 1 else
                 {"state": "running", "started": 1_700_000_000.0})
        out.append(s)
    return out


def test_describe_and_json_list_each_container_golden():
    c = seed_cluster(now=1_700_000_000.0 - 60)
    pod = next(p for p in c.pods if p.name == KUBE_DNS)
    golden_files.check(GOLDEN / "pod-describe-kube-dns.txt",
                       output.describe_pod(c, pod, "Running", False, 1, None, _statuses()))
    obj = output.pod_object(c, pod, "Running", False, 1, None, _statuses())
    assert [s["name"] for s in obj["spec"]["containers"]] == list(addon.NAMES)
    assert obj["spec"]["containers"][1]["ports"] == [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                     {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]
    assert obj["spec"]["containers"][3]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    st = obj["status"]["containerStatuses"]
    assert [(s["name"], s["ready"], s["restartCount"]) for s in st] == [
        ("kubedns", True, 0), ("dnsmasq", False, 1), ("dnsmasq-metrics", True, 0), ("healthz", True, 0)]
    assert st[1]["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert st[0]["state"] == {"running": {"startedAt": "2023-11-14T22:13:20Z"}}
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]


def test_get_pods_shows_ready_containers_of_all():
    c = seed_cluster(now=0.0)
    pod = next(p for p in c.pods if p.name == KUBE_DNS)
    st = _statuses()
    text = output.pod_rows(c, [pod], False, False, lambda p: ("Running", pod_status.ready_text(st),
                                                              pod_status.restarts(st)), 30.0)
    assert text.splitlines()[1].split() == [KUBE_DNS, "3/4", "Running", "1", "30s"]


def test_sidecar_metrics_text_has_the_add_ons_names():
    probe = sidecar.Probe.parse("dnsmasq,127.0.0.1:53,kubernetes.default.svc.cluster.local,5,A")
    assert (probe.name, probe.server, probe.port, probe.qname, probe.interval, probe.qtype) == (
        "dnsmasq", "127.0.0.1", 53, "kubernetes.default.svc.cluster.local", 5.0, "A")
    probe.count, probe.errors, probe.latency_sum, probe.buckets[2] = 3, 1, 4.5, 3
    text = sidecar.metrics_text([probe], {"hits": 7, "misses": 2, "max_size": 1000})
    lines = [x for x in text.splitlines() if not x.startswith("#")]
    assert lines[:3] == ["kubedns_dnsmasq_max_size 1000", "kubedns_dnsmasq_misses 2", "kubedns_dnsmasq_hits 7"]
    assert "kubedns_probe_dnsmasq_errors 1" in lines and "kubedns_probe_dnsmasq_latency_ms_count 3" in lines
    assert 'kubedns_probe_dnsmasq_latency_ms_bucket{le="5"} 3' in lines
    assert "# TYPE kubedns_dnsmasq_hits gauge" in text


def test_exechealthz_takes_the_add_ons_nslookup_commands():
    assert sidecar.parse_cmd("nslookup kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null") == (
        "kubernetes.default.svc.cluster.local", "127.0.0.1", 53)
    assert sidecar.parse_cmd("nslookup k.cluster.local 127.0.0.1:10053 >/dev/null") == ("k.cluster.local",
                                                                                         "127.0.0.1", 10053)
    import pytest
    with pytest.raises(ValueError, match=r"runs `nslookup NAME SERVER\[:PORT\]` only"):
        sidecar.parse_cmd("dig k.cluster.local")
