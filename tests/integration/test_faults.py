"""Faults a lab meets and must outlive: a namespace removed behind an agent's back."""
import os
import subprocess
import time

import pytest

from netlab import layout
from netlab.errors import NetlabError
from netlab.kernel import iptables, process

from helpers import eventually, proc_state, unique


def test_iptables_in_a_namespace_that_is_gone_is_one_error():
    ns = f"{unique()}-gone"
    with pytest.raises(NetlabError, match=rf"^iptables-legacy-save in {ns} failed: no network namespace '{ns}' "
                                          r"\(removed\?\)$"):
        iptables.save(ns)


def test_the_kubelet_outlives_its_node_namespace_removed_behind_its_back(make_lab):
    from netlab.model.seed import seed_cluster
    lab = make_lab(seed_cluster)
    pod = next(p for p in lab.cluster().pods if p.node == "node1" and p.name.startswith("data-product"))
    state = lab.state()
    kubelet = state["procs"]["kubelet-node1"]["pid"]
    # node1's name goes (its processes keep the namespace itself); a pod there dies: the kubelet's
    # next report rewrites node1's rules, which cannot enter node1 by its name any more
    subprocess.run(["ip", "netns", "delete", layout.host_ns(lab.name, "node1")], check=True)
    process.kill([state["procs"][layout.pod_proc(pod.namespace, pod.name)]["pid"]], timeout=0)
    log = lab.dir.logs / "kubelet-node1.log"
    assert eventually(lambda: "round failed" in log.read_text(), timeout=10), log.read_text()
    time.sleep(1)
    assert proc_state(kubelet) not in (None, "Z"), log.read_text()
    assert os.path.exists(f"/proc/{kubelet}")
