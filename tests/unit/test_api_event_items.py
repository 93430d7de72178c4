"""The lab's events as its API serves them: v1 Events of the served objects' uids, the
fields kubectl describe selects them by, kubectl get events' columns, and the store
following the events file (resourceVersions go on, a watch gets the new one)."""
import http.client
import json
import re
import time
import urllib.parse

import pytest
from api_http import TOKEN, serving

from netlab import event_reasons, events, output, state
from netlab.api import resources
from netlab.api.server import Request
from netlab.api.store import Store
from netlab.kernel import netns
from netlab.model.control_plane import admit
from netlab.model.endpoints import derive_endpoints
from netlab.model.seed import seed_cluster
from netlab.state import LabDir, LabRecord

EVENTS = resources.BY_PATH[("", "v1", "events")]


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(netns, "exists", lambda name: True)
    now = time.time() - 90
    c = seed_cluster("u", now)
    admit(c, now)
    c.endpoints = derive_endpoints(c)
    d = LabDir("u")
    d.path.mkdir(parents=True)
    d.write({"status": "ready", "created": now, "procs": {}, "namespaces": [], "cluster": c.to_dict()})
    return LabRecord("u")


def _pod(lab):
    return next(p for p in lab.cluster().pods if p.owner == "data-product")


def _served(store, resource, name):
    return next(i.obj for i in store.snapshot(resource)[1] if i.key[1] == name)


def test_an_event_is_about_the_object_as_served_with_its_uid(lab):
    p = _pod(lab)
    events.record(lab.dir, [event_reasons.scheduled(p), *event_reasons.started(p)], time.time() - 30)
    events.record(lab.dir, [event_reasons.controllers([], lab.cluster(), [], [])[0]], time.time() - 30)
    store = Store(lab)
    store.refresh(force=True)
    pod_uid = _served(store, "pods", p.name)["metadata"]["uid"]
    evs = [i.obj for i in store.snapshot("events")[1]]
    scheduled = next(e for e in evs if e["reason"] == "Scheduled")
    assert scheduled["involvedObject"] == {"kind": "Pod", "namespace": "default", "name": p.name, "uid": pod_uid,
                                           "apiVersion": "v1"}
    assert scheduled["source"] == {"component": "default-scheduler"} and scheduled["count"] == 1
    assert scheduled["metadata"]["name"].startswith(f"{p.name}.") and scheduled["metadata"]["namespace"] == "default"
    started = next(e for e in evs if e["reason"] == "Started")
    assert started["source"] == {"component": "kubelet", "host": p.node}
    assert started["involvedObject"]["fieldPath"] == "spec.containers{data-product}"
    scaled = next(e for e in evs if e["reason"] == "ScalingReplicaSet")
    assert scaled["involvedObject"]["uid"] == _served(store, "deployments", scaled["involvedObject"]["name"])[
        "metadata"]["uid"]
    assert scaled["involvedObject"]["apiVersion"] == "apps/v1"


def _select(store, selector: str) -> list[str]:
    req = Request(EVENTS, "default", None, {"fieldSelector": [selector]})
    return sorted(i.obj["reason"] for i in store.snapshot("events")[1] if req.matches(i.obj))


def test_kubectl_describes_field_selector_finds_the_pods_events(lab):
    p, other = [q for q in lab.cluster().pods if q.owner == "data-product"][:2]
    events.record(lab.dir, [event_reasons.scheduled(p), *event_reasons.started(p), event_reasons.scheduled(other),
                            event_reasons.unhealthy(p, "dial tcp: connect: connection refused")], time.time())
    store = Store(lab)
    store.refresh(force=True)
    pod_uid = _served(store, "pods", p.name)["metadata"]["uid"]
    described = f"involvedObject.name={p.name},involvedObject.namespace=default,involvedObject.kind=Pod," \
                f"involvedObject.uid={pod_uid}"
    assert _select(store, described) == ["Created", "Scheduled", "Started", "Unhealthy"]
    assert _select(store, described.replace(pod_uid, "another-uid")) == []
    assert _select(store, f"involvedObject.name={p.name},type=Warning") == ["Unhealthy"]
    assert _select(store, f"involvedObject.name={p.name},source=kubelet") == ["Created", "Started", "Unhealthy"]
    assert _select(store, "reason=Scheduled,source!=kubelet") == ["Scheduled", "Scheduled"]
    with pytest.raises(Exception, match="field label not supported: message"):
        Request(EVENTS, "default", None, {"fieldSelector": ["message=x"]})


def test_the_table_is_kubectl_get_events(lab):
    p = _pod(lab)
    now = time.time()
    events.record(lab.dir, [event_reasons.unhealthy(p, "dial tcp 1.2.3.4:80: i/o timeout")], now - 200)
    events.record(lab.dir, [event_reasons.unhealthy(p, "dial tcp 1.2.3.4:80: i/o timeout")], now - 5)
    store = Store(lab)
    store.refresh(force=True)
    [item] = store.snapshot("events")[1]
    table = resources.table("events", [(item.cells(now), item.obj)], "1")
    shown = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert shown == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert [c["name"] for c in table["columnDefinitions"]] == ["Last Seen", "Type", "Reason", "Object", "Subobject",
                                                               "Source", "Message", "First Seen", "Count", "Name"]
    assert table["rows"][0]["cells"] == [
        "5s", "Warning", "Unhealthy", f"pod/{p.name}", "spec.containers{data-product}", f"kubelet, {p.node}",
        "Readiness probe failed: dial tcp 1.2.3.4:80: i/o timeout", output.age(now - 200, now),
        2, item.obj["metadata"]["name"]]


def test_an_appended_event_is_a_new_version_and_a_watch_event(lab):
    store = Store(lab)
    store.refresh(force=True)
    rv, _, seq = store.snapshot("events")
    assert not store.refresh()                  # nothing changed
    events.record(lab.dir, [event_reasons.scheduled(_pod(lab))], time.time())
    assert store.refresh()
    got, _ = store.wait(seq, 0)
    [e] = [e for e in got if e.resource == "events"]
    assert e.type == "ADDED" and e.new is not None and e.new["reason"] == "Scheduled"
    assert int(e.new["metadata"]["resourceVersion"]) == rv + 1 == store.snapshot("events")[0]
    resumed = store.resume(rv)
    assert resumed is not None and [x.new["reason"] for x in resumed[0] if x.new] == ["Scheduled"]
    events.record(lab.dir, [event_reasons.scheduled(_pod(lab))], time.time())     # once more: counted
    assert store.refresh()
    got, _ = store.wait(e.seq, 0)
    assert [(x.type, x.new["count"]) for x in got if x.new] == [("MODIFIED", 2)]


@pytest.fixture
def server(lab):
    with serving(lab, follow=False) as srv:
        yield srv


def test_events_are_listed_by_namespace_and_field(server, lab):
    p = _pod(lab)
    events.record(lab.dir, [event_reasons.scheduled(p), *event_reasons.started(p)], time.time())
    server.store.refresh()
    query = urllib.parse.urlencode({"fieldSelector": "reason=Started"})
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request("GET", f"/api/v1/namespaces/default/events?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 200 and body["kind"] == "EventList"
    assert [(e["reason"], e["message"]) for e in body["items"]] == [("Started", "Started container data-product")]


# ---- netlab get events, netlab describe pod: kubectl's text from the same cells -------------------

def test_netlab_get_events_prints_kubectls_columns():
    from netlab import event_output
    p = seed_cluster("u", 100.0).pods[0]
    known: dict = {}
    events.aggregate(known, [event_reasons.scheduled(p), *event_reasons.started(p)], 1000.0, 0)
    records = events.live(known, 1000.0)
    text = event_output.rows(records, True, False, 1030.0).splitlines()
    assert text[0].split("   ")[:3] == ["NAMESPACE", "LAST SEEN", "TYPE"] and text[0].endswith("MESSAGE")
    assert text[1].split() == ["default", "30s", "Normal", "Scheduled", f"pod/{p.name}", "Successfully", "assigned",
                               f"default/{p.name}", "to", p.node]
    wide = event_output.rows(records, False, True, 1030.0).splitlines()[0]
    assert re.split(r"\s{2,}", wide) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT",
                                                         "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]


def test_netlab_describe_pods_events_are_kubectls_section():
    from netlab import event_output
    c = seed_cluster("u", 100.0)
    p, other = c.pods[0], c.pods[1]
    known: dict = {}
    events.aggregate(known, [event_reasons.scheduled(p), event_reasons.scheduled(other)], 1000.0, 0)
    events.aggregate(known, [event_reasons.unhealthy(p, "x")], 1100.0, 2)
    events.aggregate(known, [event_reasons.unhealthy(p, "x")], 1190.0, 3)
    mine = event_output.of_pod(events.live(known, 1200.0), p)
    assert event_output.describe(mine, 1200.0) == [
        "Events:",
        "  Type     Reason     Age               From               Message",
        "  ----     ------     ----              ----               -------",
        "  Normal   Scheduled  3m                default-scheduler  "
        f"Successfully assigned default/{p.name} to {p.node}",
        "  Warning  Unhealthy  10s (x2 over 1m)  kubelet            Readiness probe failed: x"]
