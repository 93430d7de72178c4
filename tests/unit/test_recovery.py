"""What an interrupted change left, as the record tells it (netlab.recovery; no root needed)."""
from netlab import layout, recovery
from netlab.model.seed import seed_cluster


def test_namespaces_and_processes_without_a_pod_in_the_record_are_strays():
    c = seed_cluster("lab", 0.0)
    pod = c.pods[0]
    state = {"namespaces": layout.all_namespaces(c) + ["lab-default.data-product-x-new"],
             "procs": {layout.pod_proc(pod.namespace, pod.name): {}, "pod/default/data-product-x-new": {},
                       "kubelet-node1": {}}}
    assert recovery.strays(state, c) == (["lab-default.data-product-x-new"], ["pod/default/data-product-x-new"])


def test_a_record_in_step_has_no_strays():
    c = seed_cluster("lab", 0.0)
    state = {"namespaces": layout.all_namespaces(c),
             "procs": {layout.pod_proc(p.namespace, p.name): {} for p in c.pods} | {"host/db": {}}}
    assert recovery.strays(state, c) == ([], [])
