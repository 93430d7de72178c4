"""Pods' processes: restarted when they die (RESTARTS counts it), out of Endpoints while down, logs kept."""
import json
import os
import signal

from netlab import layout
from netlab.model.seed import seed_cluster

from helpers import connect, eventually, netlab, pod_ns, proc_read, sh

POD = "data-product-6664c6dcb9-4zk27"
BM2 = "business-manager-666f454f7f-zxmsx"


def _pid(lab):
    return lab.state()["procs"][f"pod/default/{POD}"]["pid"]


def _mariadbd(lab):
    """The pids of MariaDB's server on the db host (under its supervisor)."""
    import subprocess
    out = subprocess.run(["ip", "netns", "pids", layout.host_ns(lab.name, "db")], capture_output=True, text=True)
    # a pid listed may have exited before its comm is read (the supervisor's short-lived children)
    return [int(p) for p in out.stdout.split() if (proc_read(p, "comm") or b"").strip() == b"mariadbd"]


def _endpoints(lab):
    ep = next(e for e in lab.cluster().endpoints if e.name == "data-product")
    return {a.ip for a in ep.addresses if a.ready}


def test_a_killed_process_leaves_endpoints_and_is_restarted(make_lab):
    lab = make_lab(seed_cluster)
    c = lab.cluster()
    ip = next(p.ip for p in c.pods if p.name == POD)
    first = _pid(lab)
    assert ip in _endpoints(lab)
    os.kill(first, signal.SIGKILL)
    # down: out of the Endpoints within a few tenths of a second, and no traffic reaches it
    assert eventually(lambda: ip not in _endpoints(lab), timeout=0.5)
    r = connect(pod_ns(c, "business-manager-666f454f7f-zxmsx"), "10.254.116.224:50051", "--count", "20")
    assert r["failed"] == 0 and POD not in r["by"]
    # back after the back-off, counted in RESTARTS, in the Endpoints again
    assert eventually(lambda: ip in _endpoints(lab), timeout=5.0)
    assert _pid(lab) != first
    row = next(r.split() for r in netlab("get", "pods", "--name", lab.name).stdout.splitlines() if r.startswith(POD))
    assert row[1:4] == ["1/1", "Running", "1"]
    out = json.loads(netlab("get", "endpoints", "data-product", "-o", "json", "--name", lab.name).stdout)
    assert ip in {a["ip"] for s in out["items"][0]["subsets"] for a in s["addresses"]}
    logs = netlab("logs", POD, "--name", lab.name).stdout
    assert logs.count(f"{POD} serving on port 50051") == 2


def test_logs_of_a_pod_without_a_process_is_one_clear_line(make_lab, tmp_path):
    lab = make_lab(seed_cluster)
    r = netlab("logs", "nosuch", "--name", lab.name, check=False)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "nosuch" in r.stderr, r.stderr


def test_the_walk_through_request_end_to_end(seed_lab):
    """business-manager -> data-product by name -> mysql Service -> MariaDB on the db host."""
    c = seed_lab.cluster()
    pod = pod_ns(c, "business-manager-666f454f7f-7l86b")
    assert eventually(lambda: all(p.ready for p in seed_lab.cluster().pods if p.owner == "data-product"), timeout=5)
    served = set()
    for _ in range(40):         # each goes to one of 3 data-product pods, 1 of them on node2: (2/3)^40 to miss it
        out = json.loads(sh(pod, "curl", "-s", "-m", "5", "http://business-manager/api/v1/product/list").stdout)
        assert [p["name"] for p in out["products"]] == ["apple", "banana", "cherry", "durian"]   # from the database
        served.add((out["business_manager"]["node"], out["data_product"]["node"]))
        if {dp for _, dp in served} == {"node1", "node2"}:
            break
    assert {dp for _, dp in served} == {"node1", "node2"}       # data-product pods on both nodes answered


def test_data_product_is_ready_only_while_the_database_answers(make_lab):
    lab = make_lab(seed_cluster)
    [db] = _mariadbd(lab)
    os.kill(db, signal.SIGSTOP)                 # the database hangs
    try:
        def dp_ready():
            return {p.name: p.ready for p in lab.cluster().pods if p.owner == "data-product"}
        assert eventually(lambda: not any(dp_ready().values()), timeout=5.0), dp_ready()
        subsets = json.loads(netlab("get", "endpoints", "data-product", "-o", "json",
                                    "--name", lab.name).stdout)["items"][0]["subsets"]
        assert subsets[0]["addresses"] == [] and len(subsets[0]["notReadyAddresses"]) == 3
    finally:
        os.kill(db, signal.SIGCONT)
    assert eventually(lambda: all(dp_ready().values()), timeout=5.0), dp_ready()


def test_the_db_hosts_server_is_restarted(make_lab):
    lab = make_lab(seed_cluster)
    first = _mariadbd(lab)
    assert len(first) == 1
    os.kill(first[0], signal.SIGKILL)
    assert eventually(lambda: _mariadbd(lab) and _mariadbd(lab) != first, timeout=5.0)
    assert eventually(lambda: connect(pod_ns(lab.cluster(), BM2), "10.254.84.209:3306", "--count", "1")["by"]
                      == {"mysql": 1}, timeout=5.0)
