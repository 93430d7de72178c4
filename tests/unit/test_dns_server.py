import json

import dns.flags
import dns.message

from netlab.dns.server import Store, respond
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster


def _store(tmp_path, endpoints=40):
    c = seed_cluster()
    c.services.append(Service("big", "default", cluster_ip="None", ports=[ServicePort(80, "http")]))
    c.endpoints.append(Endpoints("big", "default", [EndpointAddress(f"172.30.76.{i + 10}") for i in range(endpoints)],
                                 [EndpointPort(80, "http")]))
    f = tmp_path / "state.json"
    f.write_text(json.dumps({"cluster": c.to_dict()}))
    return Store(str(f))


def _ask(store, name, use_edns=-1, payload=512, tcp=False):
    q = dns.message.make_query(name, "A", use_edns=use_edns, payload=payload)
    return dns.message.from_wire(respond(store, q.to_wire(), tcp=tcp)), q


def test_udp_answers_that_do_not_fit_are_truncated(tmp_path):
    store = _store(tmp_path)
    r, q = _ask(store, "big.default.svc.cluster.local")
    assert r.flags & dns.flags.TC and not r.answer and r.id == q.id
    r, _ = _ask(store, "big.default.svc.cluster.local", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 40
    r, _ = _ask(store, "big.default.svc.cluster.local", tcp=True)
    assert len(r.answer[0]) == 40


def test_answers_echo_the_question_and_keep_edns_as_asked(tmp_path):
    store = _store(tmp_path, endpoints=1)
    r1, _ = _ask(store, "data-product.default.svc.cluster.local", use_edns=0, payload=1232)
    r2, _ = _ask(store, "DATA-product.default.svc.cluster.local")
    assert r1.edns == 0 and r2.edns == -1
    assert r2.question[0].name.to_text() == "DATA-product.default.svc.cluster.local."
    assert r2.answer[0][0].to_text() == "10.254.116.224" and r2.flags & dns.flags.AA
