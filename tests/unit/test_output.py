import json

import yaml

from netlab import output
from netlab.model.seed import seed_cluster


def test_table_pads_columns_three_spaces_apart():
    assert output.table(["NAME", "IP"], [["a", "10.0.0.1"], ["long-name", "x"]]).splitlines() == [
        "NAME        IP", "a           10.0.0.1", "long-name   x"]


def test_age():
    assert [output.age(0, t) for t in (5, 90, 3600, 10000, 300000)] == ["5s", "1m", "60m", "2h", "3d"]


def test_pods_wide_show_node_ips_like_the_walk_through():
    c = seed_cluster(now=0.0)
    text = output.pod_rows(c, c.pods[:1], True, False, lambda p: ("Running", "1/1", 0), 30.0)
    assert text.splitlines() == [
        "NAME                                READY   STATUS    RESTARTS   AGE   IP            NODE",
        "business-manager-666f454f7f-7l86b   1/1     Running   0          30s   172.30.76.7   192.168.0.21"]


def test_pod_list_objects_are_what_kubectl_prints():
    c = seed_cluster(now=0.0)
    items = [output.pod_object(c, p, "Running", True, 0) for p in c.pods]
    doc = json.loads(output.as_list(items, "json"))
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    kr = next(i for i in doc["items"] if i["metadata"]["name"] == "kube-dns-7cd94476cd-kr76t")
    assert kr["metadata"]["namespace"] == "kube-system"
    assert kr["status"]["podIP"] == "172.30.9.4" and kr["status"]["hostIP"] == "192.168.0.22"
    assert yaml.safe_load(output.as_list(items, "yaml")) == doc
