"""Admission, validation and the store stay linear in the number of objects: counted as
work done (Python lines run and calls made, deterministic), never as wall time."""
import sys
import time

from netlab.model import manifests, store
from netlab.model.control_plane import admit
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster
from netlab.model.validate import validate


def _cluster(n: int):
    """The seed and n services: allocated and pinned cluster IPs, allocated and pinned node
    ports (a quarter of the services: the NodePort range holds 2,768, and a search for a free
    one in a range almost full is long by nature), named target ports, each with hand-written
    Endpoints."""
    c = seed_cluster()
    for i in range(n):
        kind = i % 8
        c.services.append(Service(
            f"svc-{i}", "default", type="NodePort" if kind in (1, 3) else "ClusterIP",
            cluster_ip=f"10.254.{200 + i // 250}.{i % 250 + 2}" if kind == 2 else None,
            ports=[ServicePort(80, "http", "TCP", "http" if kind == 0 else 8080,
                               node_port=31523 + i // 8 if kind == 3 else None)]))
        c.endpoints.append(Endpoints(f"svc-{i}", "default", [EndpointAddress(f"10.99.{i // 250}.{i % 250}")],
                                     [EndpointPort(8080, "http")]))
    return c


def _work(fn) -> int:
    """Lines run and calls made by Python code while fn() runs."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += 1
        return tracer
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _ratio(work_at) -> float:
    """Work for 5,000 objects over work for 2,500: 2 when linear, 4 when quadratic."""
    small, large = work_at(2500), work_at(5000)
    return large / small


def test_admitting_and_validating_services_is_linear():
    def admitted(n):
        c = _cluster(n)
        return _work(lambda: admit(c, time.time()))
    assert _ratio(admitted) < 2.3


def test_validating_an_admitted_cluster_is_linear():
    def validated(n):
        c = admit(_cluster(n), time.time())
        return _work(lambda: validate(c))
    assert _ratio(validated) < 2.3


def test_every_allocated_cluster_ip_and_node_port_is_distinct():
    """Allocation sees what the services before it were given in the same pass (hashes of 5,000
    names collide in a /16: each must move on to a free address)."""
    c = admit(_cluster(5000), time.time())
    ips = [s.cluster_ip for s in c.services if s.cluster_ip != "None"]
    ports = [p.node_port for s in c.services for p in s.ports if p.node_port]
    assert len(ips) == len(set(ips)) and len(ports) == len(set(ports)) and len(ports) >= 1250


def _documents(n: int) -> list[manifests.Manifest]:
    docs = []
    for i in range(n):
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
                     "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        docs.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": f"svc-{i}"},
                     "subsets": [{"addresses": [{"ip": f"10.99.{i // 250}.{i % 250}"}],
                                  "ports": [{"name": "http", "port": 8080}]}]})
    return [manifests.parse_document(d, f"document {i + 1}") for i, d in enumerate(docs)]


def test_applying_and_saying_what_changed_is_linear():
    def applied(n):
        c, items = seed_cluster(), _documents(n)
        store.apply(c, _documents(n))       # there already: the second apply replaces each

        def again():
            before = store.snapshot(c, items)
            store.apply(c, items)
            store.outcomes(before, c, items)
        return _work(again)
    assert _ratio(applied) < 2.3
