"""up, down, clean, crashes and two labs at once: nothing of a lab outlives it, the host is untouched."""
import os
import signal
import subprocess
import sys

import pytest

from netlab import layout
from netlab.kernel import process

from helpers import (
    eventually, host_snapshot, leftovers, listdir, netlab, ping, proc_state, sh, sigint_as_in_a_terminal, unique,
)


def test_up_then_down_leaves_nothing_and_the_host_untouched():
    before = host_snapshot()
    name = unique()
    try:
        up = netlab("up", "--name", name)
        assert "business-manager-666f454f7f-7l86b" in up.stdout and "192.168.0.21" in up.stdout
        state = __import__("netlab.lab", fromlist=["Lab"]).Lab(name).state()
        pids = [p["pid"] for p in state["procs"].values()]
        # two flanneld, two kubelets, two kube-proxy health servers, a server in each of the eight pods,
        # the db host's, the API server
        assert {"flanneld-node1", "flanneld-node2", "kubelet-node1", "kubelet-node2", "kube-proxy-node1",
                "kube-proxy-node2", "host/db", "apiserver"} \
            <= set(state["procs"]) and len(pids) == 16
        assert all(os.path.exists(f"/proc/{p}") for p in pids)
        assert ping(layout.pod_ns(name, _pod(state, "data-product-6664c6dcb9-4zk27")), "172.30.9.4")
    finally:
        netlab("down", "--name", name, check=False)
    assert leftovers(name) == []
    assert not any(proc_state(p) not in (None, "Z") for p in pids)     # gone, or a zombie not yet reaped
    assert host_snapshot() == before


def test_down_leaves_nothing_of_a_process_that_keeps_forking(make_lab):
    """A pod process that forks all the time (a shell starting workers, a kubelet restarting
    containers as it is stopped): what it forks while down lists and kills must go too."""
    from netlab.model.seed import seed_cluster
    lab = make_lab(seed_cluster)
    ns = layout.pod_ns(lab.name, lab.cluster().pods[0])
    env = {"PATH": os.environ["PATH"], "NETLAB_NETNS": ns}      # the mark leftovers() looks for
    forker = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", "while :; do sleep 60 & done"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert eventually(lambda: len(process.in_namespaces([ns])) > 50, timeout=10)
        netlab("down", "--name", lab.name)
        assert leftovers(lab.name) == []
    finally:
        _kill_marked(ns)
        forker.wait(timeout=10)


def _kill_marked(ns: str) -> None:
    """What a failed run of the test above left: processes carrying its mark (by pid)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"NETLAB_NETNS={ns}".encode() in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


def _pod(state, name):
    from netlab.model.objects import Cluster
    return next(p for p in Cluster.from_dict(state["cluster"]).pods if p.name == name)


def test_second_up_of_the_same_name_is_refused(make_lab):
    from netlab.model.seed import seed_cluster
    lab = make_lab(seed_cluster)
    r = netlab("up", "--name", lab.name, check=False)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"netlab: lab {lab.name!r} exists already "
                                             f"(netlab down --name {lab.name}, or netlab clean after a crash)"]
    assert ping(layout.pod_ns(lab.name, lab.cluster().pods[0]), "172.30.9.2")   # the first one is intact


def test_two_labs_with_the_same_addresses_side_by_side(make_lab):
    from netlab.model.seed import seed_cluster
    a, b = make_lab(seed_cluster), make_lab(seed_cluster)
    for lab in (a, b):
        c = lab.cluster()
        assert ping(layout.pod_ns(c.name, c.pods[0]), "172.30.9.2")
        # each underlay holds its own six members only: router, two nodes, client, db, lb
        ports = sh(layout.host_ns(c.name, "underlay"), "ip", "-o", "link", "show", "master", "br0").stdout
        assert len(ports.splitlines()) == 6
    # b's VTEP MACs differ from a's, and a's FDB knows only a's node2
    from netlab.flannel.lease import vtep_mac
    fdb = sh(layout.node_ns(a.name, "node1"), "bridge", "fdb", "show", "dev", "flannel.1").stdout
    assert vtep_mac(a.name, "node2") in fdb and vtep_mac(b.name, "node2") not in fdb
    a.down()
    assert leftovers(a.name) == []
    c = b.cluster()
    assert ping(layout.pod_ns(c.name, c.pods[0]), "172.30.9.3")


@pytest.mark.parametrize("kill_after", ["namespaces", "pods: veths", "flanneld"])
def test_sigkill_during_up_then_clean_leaves_nothing(tmp_path, kill_after):
    # a run directory of its own, so the global `clean` sees only this test's lab
    env = {**os.environ, "NETLAB_RUN_DIR": str(tmp_path / "run")}
    name = unique()
    before = host_snapshot()
    up = subprocess.Popen([sys.executable, "-m", "netlab.cli", "up", "--name", name], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in up.stdout:
            if line.strip().startswith(kill_after):
                break
        up.send_signal(signal.SIGKILL)
        up.wait()
        assert up.returncode == -signal.SIGKILL
        assert any(n.startswith(f"{name}-") for n in listdir("/run/netns"))   # it left things
    finally:
        clean = netlab("clean", env=env)
    assert f"removed lab {name}" in clean.stdout
    assert [x for x in leftovers(name) if not x.startswith("state")] == []
    assert not (tmp_path / "run" / name).exists()
    assert process.in_namespaces([n for n in listdir("/run/netns") if n.startswith(f"{name}-")]) == []
    assert host_snapshot() == before


def test_non_root_gets_one_clear_line():
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "netlab.cli", "get", "pods"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["netlab: must be run as root: it creates network namespaces, links "
                                     "and iptables rules (try: sudo netlab ...)"]
    assert r.stdout == ""


def test_bad_topology_is_one_line_and_builds_nothing(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("nodes:\n  - {name: n1, ip: 192.168.0.21, podCIDR: 10.0.0.0/24}\n")
    name = unique()
    r = netlab("up", "-f", str(f), "--name", name, check=False)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"netlab: {f}: nodes[0].podCIDR: 10.0.0.0/24 is outside "
                                     "cluster.clusterCIDR 172.30.0.0/16"]
    assert leftovers(name) == []


def test_cli_get_exec_and_status(make_lab):
    from netlab.model.seed import seed_cluster
    lab = make_lab(seed_cluster)
    wide = netlab("get", "pods", "-o", "wide", "--name", lab.name).stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    row = next(r.split() for r in wide if r.startswith("data-product-6664c6dcb9-tkmms"))
    assert row[1:3] == ["1/1", "Running"] and row[5:] == ["172.30.9.2", "192.168.0.22"]
    assert len(wide) == 7                                 # six pods in namespace default
    import json
    items = json.loads(netlab("get", "pods", "-A", "-o", "json", "--name", lab.name).stdout)["items"]
    assert {(i["metadata"]["name"], i["status"]["podIP"], i["status"]["hostIP"]) for i in items} == {
        (p.name, p.ip, lab.cluster().node(p.node).ip) for p in lab.cluster().pods}
    r = netlab("exec", "--name", lab.name, "-n", "kube-system", "kube-dns-7cd94476cd-kr76t", "--",
               "ip", "-4", "-o", "addr", "show", "eth0")
    assert "172.30.9.4/24" in r.stdout
    r = netlab("exec", "--name", lab.name, "client", "--", "sh", "-c", "exit 7", check=False)
    assert r.returncode == 7
    r = netlab("exec", "--name", lab.name, "nosuchpod", "--", "true", check=False)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "nosuchpod" in r.stderr
    status = netlab("status", "--name", lab.name).stdout
    assert lab.name in status and "15/15" in status


@pytest.mark.parametrize("mode", ["seed", "routes"])
def test_node_add_and_remove_update_every_node(make_lab, mode):
    from netlab.flannel.lease import vtep_mac
    from netlab.model.seed import seed_cluster

    def cluster(name, now):
        c = seed_cluster(name, now)
        c.flannel_mode = mode
        return c
    lab = make_lab(cluster)
    name = lab.name
    out = netlab("node", "add", "node3", "--pods", "2", "--name", name).stdout
    c = lab.cluster()
    node3 = c.node("node3")
    assert (node3.ip, node3.pod_cidr) == ("192.168.0.23", "172.30.0.0/24")
    new = c.pods_on("node3")
    assert len(new) == 2 and all(p.name in out for p in new)
    mac3 = vtep_mac(name, "node3")
    for old in ("node1", "node2"):
        fdb = lambda: sh(layout.node_ns(name, old), "bridge", "fdb", "show", "dev", "flannel.1").stdout  # noqa
        assert eventually(lambda: f"{mac3} dst 192.168.0.23" in fdb())
    for src in ("business-manager-666f454f7f-7l86b", "data-product-6664c6dcb9-tkmms"):
        for dst in new:
            assert ping(layout.pod_ns(name, next(p for p in c.pods if p.name == src)), dst.ip)
    assert ping(layout.pod_ns(name, new[0]), "172.30.76.7")

    netlab("node", "remove", "node3", "--name", name)
    for old in ("node1", "node2"):
        ns = layout.node_ns(name, old)
        gone = lambda: (mac3 not in sh(ns, "bridge", "fdb", "show", "dev", "flannel.1").stdout  # noqa
                        and mac3 not in sh(ns, "ip", "neigh", "show", "dev", "flannel.1").stdout
                        and "172.30.0.0/24" not in sh(ns, "ip", "route").stdout)
        assert eventually(gone, timeout=1.0), sh(ns, "bridge", "fdb", "show", "dev", "flannel.1").stdout
    assert not any(n.startswith(f"{name}-node3") for n in listdir("/run/netns"))
    assert "node3" not in [n.name for n in lab.cluster().nodes]
    assert len(lab.cluster().pods) == 8


def test_ctrl_c_during_up_removes_what_was_made(tmp_path):
    env = {**os.environ, "NETLAB_RUN_DIR": str(tmp_path / "run")}
    name = unique()
    up = subprocess.Popen([sys.executable, "-m", "netlab.cli", "up", "--name", name], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          preexec_fn=sigint_as_in_a_terminal)
    try:
        for line in up.stdout:
            if line.strip().startswith("underlay"):      # the second of seven steps: most is yet to come
                break
        up.send_signal(signal.SIGINT)
        rest = up.communicate(timeout=30)[0]
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if up.returncode == 0:        # the lab is up: not this test's to leave behind
            netlab("down", "--name", name, env=env, check=False)
    if up.returncode == 0:
        pytest.skip("up finished before the interrupt arrived")
    assert up.returncode == 130 and "netlab: interrupted" in rest
    assert f"building lab {name!r} failed; removing what was made" in rest
    assert [x for x in leftovers(name) if not x.startswith("state")] == []
    assert not (tmp_path / "run" / name).exists()


def test_up_refuses_a_namespace_that_is_not_its_own():
    name = unique()
    subprocess.run(["ip", "netns", "add", f"{name}-node1"], check=True)
    try:
        r = netlab("up", "--name", name, check=False)
        assert r.returncode == 1
        assert r.stderr.splitlines() == [f"netlab: network namespace {name}-node1 exists already and is not "
                                         f"lab {name!r}'s (ip netns list); choose another --name"]
        assert os.path.exists(f"/run/netns/{name}-node1")          # left alone
        assert not os.path.exists(f"/run/netlab/{name}")
    finally:
        subprocess.run(["ip", "netns", "del", f"{name}-node1"], check=False)
    assert leftovers(name) == []


def test_clean_after_a_reboot_removes_what_is_left_in_etc_netns(tmp_path):
    """A reboot empties /run (namespaces, state) but not /etc/netns: clean still finds it."""
    env = {**os.environ, "NETLAB_RUN_DIR": str(tmp_path / "run"), "NETLAB_MARK_DIR": str(tmp_path / "marks")}
    name = unique()
    pids = []
    try:            # (a failed up is cleaned up too: clean finds it in this run directory)
        netlab("up", "--name", name, env=env)
        import json
        state = json.loads((tmp_path / "run" / name / "state.json").read_text())
        pids = [p["pid"] for p in state["procs"].values()]
        names = state["namespaces"]
        # what a reboot does: processes, mounts and /run are gone
        process.kill(pids + process.in_namespaces(names), timeout=0)
        for n in names:
            subprocess.run(["umount", f"/run/netns/{n}"], check=False)
            os.unlink(f"/run/netns/{n}")
        import shutil
        shutil.rmtree(tmp_path / "run" / name)
        assert any(x.startswith("/etc/netns/") for x in leftovers(name))
    finally:
        out = netlab("clean", env=env).stdout
    assert f"removed what lab {name} left in /etc/netns" in out
    assert leftovers(name) == [] and not (tmp_path / "marks" / name).exists()
