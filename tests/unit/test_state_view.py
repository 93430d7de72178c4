"""What kube-dns may read of the lab's store (netlab.state.view): no root needed."""


def test_kube_dns_view_holds_no_secret_config_map_template_or_pod_variables():
    from netlab.model.seed import seed_cluster
    from netlab.state import view
    stored = seed_cluster().to_dict()
    seen = view(stored)
    assert stored["secrets"] and "secrets" not in seen and "config_maps" not in seen and "deployments" not in seen
    assert [p["ip"] for p in seen["pods"]] == [p["ip"] for p in stored["pods"]]
    assert all(set(p) <= {"name", "namespace", "node", "ip", "labels", "owner", "created", "ready", "restarts"}
               for p in seen["pods"])
    assert seen["services"] == stored["services"] and seen["endpoints"] == stored["endpoints"]
    from netlab.dns.records import build
    from netlab.model.objects import Cluster
    assert build(Cluster.from_dict(seen)).records == build(Cluster.from_dict(stored)).records
