"""The lab's events: aggregation as client-go's recorder does it, the bounded file several
processes append to, and what each component records (over the fake kernel)."""
import multiprocessing
import time

import pytest

from netlab import event_reasons, events, state
from netlab.events import Event
from netlab.lab import Lab
from netlab.model.seed import seed_cluster
from netlab.state import LabDir

T0 = 1_700_000_000.0


def started(name="web-1", message="Started container web") -> Event:
    return Event("Normal", "Started", message, "Pod", "default", name, "kubelet", "node1", "spec.containers{web}", T0)


# ---- pure ------------------------------------------------------------------------------------

def test_an_event_is_named_after_its_object_and_first_time_in_nanoseconds():
    assert events.event_name("web-1", 1.5) == "web-1.59682f00"
    [rec] = events.aggregate({}, [started()], T0, 0)
    assert rec["name"] == f"web-1.{int(T0 * 1e9):x}" and rec["count"] == 1 and rec["seq"] == 1
    assert rec["first"] == rec["last"] == T0
    # one object's events of one batch: each its own name, in order
    batch = events.aggregate({}, [started(message=m) for m in "abc"], T0, 0)
    assert len({r["name"] for r in batch}) == 3 and sorted(r["name"] for r in batch) == [r["name"] for r in batch]


def test_the_same_event_again_counts_once_more_and_keeps_its_name_and_first_time():
    known: dict = {}
    [first] = events.aggregate(known, [started()], T0, 0)
    [again] = events.aggregate(known, [started()], T0 + 5, 1)
    assert (again["name"], again["count"], again["first"], again["last"], again["seq"]) == \
        (first["name"], 2, T0, T0 + 5, 2)
    [other] = events.aggregate(known, [started(message="Started container other")], T0 + 6, 2)
    assert other["name"] != first["name"] and other["count"] == 1
    assert [r["count"] for r in known.values()] == [2, 1]


def test_an_expired_event_is_not_counted_on_a_new_one_is_made():
    known: dict = {}
    [first] = events.aggregate(known, [started()], T0, 0)
    [later] = events.aggregate(known, [started()], T0 + events.TTL, 1)
    assert later["name"] != first["name"] and later["count"] == 1
    assert [r["name"] for r in events.live(known, T0 + events.TTL + 1)] == [later["name"]]


def test_a_line_being_written_is_skipped_and_later_lines_win():
    a, b = events.aggregate({}, [started(), started("web-2")], T0, 0)
    a2 = {**a, "count": 2, "seq": 3}
    text = events.dumps([a, b, a2]).decode() + '{"name": "web-3", "se'
    assert events.parse(text) == [a, b, a2]
    assert list(events.fold(events.parse(text)).values()) == [b, a2]
    assert events.last_seq(events.fold(events.parse(text))) == 3


def test_live_keeps_the_last_changed():
    known: dict = {}
    events.aggregate(known, [started(f"web-{i}") for i in range(10)], T0, 0)
    assert [r["name"].split(".")[0] for r in events.live(known, T0, keep=3)] == ["web-7", "web-8", "web-9"]


# ---- the file --------------------------------------------------------------------------------

@pytest.fixture
def lab_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    d = LabDir("ev")
    d.path.mkdir(parents=True)
    return d


def test_the_file_is_compacted_to_the_last_events(lab_dir, monkeypatch):
    monkeypatch.setattr(events, "KEEP", 20)
    monkeypatch.setattr(events, "SLACK", 5)
    for i in range(60):
        events.record(lab_dir, [started(f"web-{i}")], T0 + i)
        assert len(events.read(lab_dir)) <= 25
    kept = events.live(events.fold(events.read(lab_dir)), T0 + 60)
    assert kept[-1]["name"].startswith("web-59.") and len(kept) >= 20
    assert events.last_seq(events.fold(events.read(lab_dir))) == 60      # sequence numbers go on


def _record_many(lab_dir: LabDir, n: int) -> None:
    for _ in range(n):
        events.record(lab_dir, [started()], T0)


def test_several_processes_recording_at_once_lose_no_count(lab_dir):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(lab_dir, 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    [rec] = events.fold(events.read(lab_dir)).values()
    assert rec["count"] == 200 and rec["seq"] == 200
    assert len(events.read(lab_dir)) == 200          # whole lines, none torn


def test_a_lab_gone_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    events.record(LabDir("gone"), [started()], T0)
    assert not (tmp_path / "run").exists()


# ---- what the components record ----------------------------------------------------------------


def _said(lab) -> list[tuple[str, str, str, str, str]]:
    return [(r["type"], r["reason"], r["kind"], r["object"], r["message"])
            for r in events.live(events.fold(events.read(lab.dir)), time.time())]


def _scale(name, n):
    def change(c):
        next(d for d in c.deployments if d.name == name).replicas = n
    return change


def test_up_records_each_pod_scheduled_and_started(kernel):
    lab = Lab.up(seed_cluster("ev"), kernel=kernel)
    c = lab.cluster()
    said = _said(lab)
    for p in c.pods:
        assert ("Normal", "Scheduled", "Pod", p.name, f"Successfully assigned default/{p.name} to {p.node}") in said \
            or p.namespace != "default"
        if p.command:
            assert ("Normal", "Started", "Pod", p.name, f"Started container {p.owner or p.name}") in said
    dp = next(d for d in c.deployments if d.name == "data-product")
    assert ("Normal", "ScalingReplicaSet", "Deployment", "data-product",
            f"Scaled up replica set data-product-{dp.template_hash} to 3 from 0") in said
    # the scheduler's word comes before the kubelet's
    first = next(p for p in c.pods if p.command)
    order = [(r, n) for _, r, _, n, _ in said]
    assert order.index(("Scheduled", first.name)) < order.index(("Started", first.name))


def test_scaling_records_the_controllers_and_the_endpoints(kernel):
    lab = Lab.up(seed_cluster("ev"), kernel=kernel)
    rs = f"data-product-{next(d for d in lab.cluster().deployments if d.name == 'data-product').template_hash}"
    started, _ = lab.update(_scale("data-product", 5))
    said = _said(lab)
    assert ("Normal", "ScalingReplicaSet", "Deployment", "data-product",
            f"Scaled up replica set {rs} to 5 from 3") in said
    for p in started:
        assert ("Normal", "SuccessfulCreate", "ReplicaSet", rs, f"Created pod: {p.name}") in said
        assert ("Normal", "Started", "Pod", p.name, "Started container data-product") in said
    [changed] = [s for s in said if s[1] == "EndpointsChanged"]
    assert changed[2:4] == ("Service", "data-product")
    assert changed[4].startswith("Ready endpoints changed: 5 addresses (was 3): +")

    _, stopped = lab.update(_scale("data-product", 3))
    said = _said(lab)
    assert ("Normal", "ScalingReplicaSet", "Deployment", "data-product",
            f"Scaled down replica set {rs} to 3 from 5") in said
    for p in stopped:
        assert ("Normal", "Killing", "Pod", p.name, "Stopping container data-product") in said
        assert ("Normal", "SuccessfulDelete", "ReplicaSet", rs, f"Deleted pod: {p.name}") in said


def test_a_readiness_change_reported_by_the_kubelet_is_an_endpoints_event(kernel):
    lab = Lab.up(seed_cluster("ev"), kernel=kernel)
    p = next(p for p in lab.cluster().pods if p.owner == "data-product")
    lab.kubelet_report(p.node, [], {(p.namespace, p.name): (True, False)})
    [changed] = [s for s in _said(lab) if s[1] == "EndpointsChanged"]
    assert changed[4] == f"Ready endpoints changed: 2 addresses (was 3): -{p.ip}"


def test_the_kubelets_words():
    c = seed_cluster("ev")
    p = next(p for p in c.pods if p.owner == "data-product")
    assert event_reasons.unhealthy(p, "dial tcp 1.2.3.4:80: connect: connection refused").message == \
        "Readiness probe failed: dial tcp 1.2.3.4:80: connect: connection refused"
    back_off = event_reasons.back_off(p, "u-1")
    assert (back_off.type, back_off.reason, back_off.host, back_off.field_path) == \
        ("Warning", "BackOff", p.node, "spec.containers{data-product}")
    assert back_off.message == f"Back-off restarting failed container data-product in pod {p.name}_default(u-1)"
