"""kube-proxy's health-check servers (netlab.kube_proxy.healthcheck): the answers, the
listeners on the loopback, and the program with its state file. No root needed."""
import contextlib
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from netlab.kube_proxy import healthcheck as hc
from netlab.kube_proxy.healthcheck import Answer, HealthCheckServer, ProxyState

DEADLINE = 15.0         # generous: a loaded CI box may be slow to start a Python


def free_ports(n: int) -> list[int]:
    """n distinct ports nothing listens on (just now) on the loopback."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def get(port: int, path: str = "/", conn: http.client.HTTPConnection | None = None) -> tuple[int, dict, bytes]:
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        if own:
            c.close()


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_for(what, description: str):
    """Poll `what` until it returns something true (and return that), or fail after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            got = what()
        except OSError:
            got = None
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"after {DEADLINE} s, still not: {description}")
        time.sleep(0.05)


# --- the answers ---------------------------------------------------------------------------

def test_a_service_with_local_endpoints_is_200_with_its_count():
    a = hc.service_answer("default", "web", 3)
    assert a.status == 200
    assert dict(a.headers) == {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
                               "X-Load-Balancing-Endpoint-Weight": "3"}
    # kube-proxy's document, byte for byte: tab-indented, no final newline
    assert a.body == (b'{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n'
                      b'\t"localEndpoints": 3,\n\t"serviceProxyHealthy": true\n}')


def test_a_service_without_local_endpoints_is_503():
    a = hc.service_answer("ns", "lb", 0)
    assert a.status == 503
    assert json.loads(a.body) == {"service": {"namespace": "ns", "name": "lb"}, "localEndpoints": 0,
                                  "serviceProxyHealthy": True}
    assert dict(a.headers)["X-Load-Balancing-Endpoint-Weight"] == "0"


def test_an_unhealthy_proxy_makes_every_service_503_whatever_its_endpoints():
    a = hc.service_answer("ns", "lb", 4, proxy_healthy=False)
    assert a.status == 503
    assert json.loads(a.body)["serviceProxyHealthy"] is False
    assert json.loads(a.body)["localEndpoints"] == 4


def test_the_proxy_is_unhealthy_only_when_a_change_waited_too_long_for_a_sync():
    synced = ProxyState(last_updated=1000.0)
    assert hc.proxy_healthy(ProxyState(), now=5000.0)                          # starting up
    assert hc.proxy_healthy(ProxyState(pending_since=10.0), now=5000.0)        # still starting up
    assert hc.proxy_healthy(synced, now=1_000_000.0)                           # nothing to do for long
    assert hc.proxy_healthy(ProxyState(1000.0, pending_since=2000.0), now=2059.9)
    assert not hc.proxy_healthy(ProxyState(1000.0, pending_since=2000.0), now=2060.0)
    assert hc.proxy_healthy(ProxyState(1000.0, pending_since=2000.0), now=2060.0, timeout=61)


def test_go_time_is_rfc3339_as_go_marshals_a_utc_time():
    assert hc.go_time(None) == "0001-01-01T00:00:00Z"
    assert hc.go_time(0) == "1970-01-01T00:00:00Z"
    assert hc.go_time(1700000000.5) == "2023-11-14T22:13:20.5Z"
    assert hc.go_time(1700000000.000123) == "2023-11-14T22:13:20.000123Z"


def test_healthz_when_healthy_reports_now_as_last_updated():
    a = hc.proxy_answer("/healthz", ProxyState(last_updated=1700000000.0), now=1700000100.25)
    assert a.status == 200
    assert dict(a.headers) == {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}
    assert a.body == (b'{"lastUpdated":"2023-11-14T22:15:00.25Z","currentTime":"2023-11-14T22:15:00.25Z",'
                      b'"nodeEligible":true,"healthy":true,'
                      b'"status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":true}}}')


def test_healthz_and_livez_are_503_with_the_real_last_update_when_a_sync_is_late():
    late = ProxyState(last_updated=1700000000.0, pending_since=1700000010.0)
    for path in ("/healthz", "/livez"):
        a = hc.proxy_answer(path, late, now=1700000070.0)
        doc = json.loads(a.body)
        assert (a.status, doc["healthy"], doc["lastUpdated"]) == (503, False, "2023-11-14T22:13:20Z"), path
        assert doc["status"] == {"IPv4": {"lastUpdated": "2023-11-14T22:13:20Z", "healthy": False}}
        assert doc["currentTime"] == "2023-11-14T22:14:30Z"


def test_a_node_not_eligible_fails_healthz_but_not_livez():
    draining = ProxyState(last_updated=1700000000.0, node_eligible=False)
    healthz = hc.proxy_answer("/healthz", draining, now=1700000001.0)
    livez = hc.proxy_answer("/livez", draining, now=1700000001.0)
    assert healthz.status == 503 and json.loads(healthz.body)["nodeEligible"] is False
    assert json.loads(healthz.body)["healthy"] is True            # the proxy is, the node is not
    assert json.loads(healthz.body)["lastUpdated"] == "2023-11-14T22:13:20Z"
    assert livez.status == 200 and "nodeEligible" not in json.loads(livez.body)


def test_before_the_first_sync_there_is_no_status_and_other_paths_are_404():
    a = hc.proxy_answer("/livez?verbose=1", ProxyState(), now=1700000000.0)
    assert a.status == 200 and "status" not in json.loads(a.body)
    for path in ("/", "/healthz/", "/metrics", "/livezz"):
        assert hc.proxy_answer(path, ProxyState(), now=0.0) == Answer(
            404, (("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")),
            b"404 page not found\n"), path


# --- the state file --------------------------------------------------------------------------

def test_a_state_file_gives_services_by_port_and_the_proxy_state():
    s = hc.parse_state(json.dumps({"services": {"30001": {"namespace": "a", "name": "b", "localEndpoints": 2}},
                                   "lastUpdated": 1700000000, "pendingSince": None, "nodeEligible": False}))
    assert s.services == {30001: ("a", "b", 2)}
    assert s.proxy == ProxyState(1700000000.0, None, False)
    assert hc.parse_state('{"services": {}, "lastUpdated": null}').proxy == ProxyState()


@pytest.mark.parametrize("text, match", [
    ("{", r"^not JSON: "),
    ("[]", r"^must be a JSON object"),
    ('{"lastUpdated": 1}', r"^services: must be an object"),
    ('{"services": {}}', r"^lastUpdated: missing"),
    ('{"services": {}, "lastUpdated": "yesterday"}', r"^lastUpdated: must be epoch seconds or null, not 'yesterday'"),
    ('{"services": {}, "lastUpdated": true}', r"^lastUpdated: must be epoch seconds"),
    ('{"services": {"http": {}}, "lastUpdated": 1}', r"^services\['http'\]: the key must be a port number"),
    ('{"services": {"70000": {}}, "lastUpdated": 1}', r"^services\['70000'\]: the key must be a port number"),
    ('{"services": {"1": 3}, "lastUpdated": 1}', r"^services\['1'\]: must be an object"),
    ('{"services": {"1": {"name": "b", "localEndpoints": 1}}, "lastUpdated": 1}',
     r"^services\['1'\]\.namespace: must be a non-empty string, not None"),
    ('{"services": {"1": {"namespace": "a", "name": "b", "localEndpoints": -1}}, "lastUpdated": 1}',
     r"^services\['1'\]\.localEndpoints: must be a whole number >= 0, not -1"),
    ('{"services": {"1": {"namespace": "a", "name": "b", "localEndpoints": 1.5}}, "lastUpdated": 1}',
     r"localEndpoints: must be a whole number"),
    ('{"services": {"1": {"namespace": "a", "name": "b", "localEndpoints": 1},'
     ' "01": {"namespace": "a", "name": "c", "localEndpoints": 1}}, "lastUpdated": 1}',
     r"^services: port 1 is given twice"),
    ('{"services": {}, "lastUpdated": 1, "nodeEligible": "yes"}', r"^nodeEligible: must be true or false"),
])
def test_a_bad_state_file_says_what_is_wrong(text, match):
    with pytest.raises(hc.StateError, match=match):
        hc.parse_state(text)


def test_changes_are_one_line_a_port():
    old = {30001: ("a", "b", 1), 30002: ("a", "c", 0), 30003: ("a", "d", 5)}
    new = {30002: ("a", "c", 2), 30003: ("a", "d", 5), 30004: ("x", "y", 0)}
    assert hc.changes(old, new) == ["close 30001 a/b",
                                    "change 30002 a/c: 0 -> a/c: 2 local endpoints",
                                    "open 30004 x/y: 0 local endpoints"]
    assert hc.changes(new, new) == []


# --- the listeners ---------------------------------------------------------------------------

@contextlib.contextmanager
def serving(**kwargs):
    server = HealthCheckServer("127.0.0.1", **kwargs)
    try:
        yield server
    finally:
        server.close()


def test_update_opens_ports_that_answer_as_their_service():
    p1, p2 = free_ports(2)
    with serving() as server:
        assert server.update({p1: ("default", "web", 2), p2: ("default", "db", 0)}) == [
            f"open {p} default/{n}: {c} local endpoints" for p, n, c in sorted([(p1, "web", 2), (p2, "db", 0)])]
        status, headers, body = get(p1, "/any/path")
        assert (status, json.loads(body)["localEndpoints"]) == (200, 2)
        assert headers["X-Load-Balancing-Endpoint-Weight"] == "2"
        assert headers["Content-Type"] == "application/json" and headers["X-Content-Type-Options"] == "nosniff"
        assert json.loads(body)["service"] == {"namespace": "default", "name": "web"}
        status, _, body = get(p2)
        assert (status, json.loads(body)["localEndpoints"]) == (503, 0)
        assert server.services == {p1: ("default", "web", 2), p2: ("default", "db", 0)}


def test_update_changes_answers_in_place_and_a_removed_port_refuses_connections():
    p1, p2, p3 = free_ports(3)
    with serving() as server:
        server.update({p1: ("a", "one", 0), p2: ("a", "two", 1)})
        kept = http.client.HTTPConnection("127.0.0.1", p1, timeout=5)
        try:
            assert get(p1, conn=kept)[0] == 503
            lines = server.update({p1: ("a", "one", 3), p3: ("a", "three", 0)})
            assert lines == [line for _, line in sorted([            # in port order
                (p1, f"change {p1} a/one: 0 -> a/one: 3 local endpoints"), (p2, f"close {p2} a/two"),
                (p3, f"open {p3} a/three: 0 local endpoints")])]
            # the same connection, so the same listener: it was not restarted
            status, _, body = get(p1, conn=kept)
            assert (status, json.loads(body)["localEndpoints"]) == (200, 3)
        finally:
            kept.close()
        assert refuses(p2)
        assert get(p3)[0] == 503
        server.update({})
        assert refuses(p1) and refuses(p3)
        assert server.services == {}


def test_a_busy_port_is_named_and_the_others_open_all_the_same():
    free, busy = free_ports(2)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", busy))
    squatter.listen()
    try:
        with serving() as server:
            with pytest.raises(hc.BindError, match=rf"^cannot listen on 127\.0\.0\.1:{busy} \(service ns/busy\): "
                                                   r"Address already in use$") as e:
                server.update({free: ("ns", "ok", 1), busy: ("ns", "busy", 1)})
            assert e.value.changes == [f"open {free} ns/ok: 1 local endpoints"]
            assert get(free)[0] == 200
            assert server.services == {free: ("ns", "ok", 1)}
            squatter.close()
            assert server.update({free: ("ns", "ok", 1), busy: ("ns", "busy", 1)}) == [
                f"open {busy} ns/busy: 1 local endpoints"]          # tried again, and opened
            assert get(busy)[0] == 200
    finally:
        squatter.close()


def test_the_proxy_port_serves_healthz_and_its_state_turns_services_503():
    now = [1700000100.0]
    port, = free_ports(1)
    with serving(proxy_port=0, clock=lambda: now[0]) as server:
        server.update({port: ("a", "b", 2)})
        server.set_proxy(ProxyState(last_updated=1700000000.0))
        status, headers, body = get(server.proxy_port, "/healthz")
        assert (status, headers["Content-Type"]) == (200, "application/json")
        assert json.loads(body)["lastUpdated"] == json.loads(body)["currentTime"] == "2023-11-14T22:15:00Z"
        assert get(server.proxy_port, "/nothing")[0] == 404
        server.set_proxy(ProxyState(last_updated=1700000000.0, pending_since=1700000060.0))
        assert get(server.proxy_port, "/livez")[0] == 200           # waiting 40 s: not late yet
        now[0] = 1700000120.5                                       # 60.5 s
        assert get(server.proxy_port, "/livez")[0] == 503
        status, _, body = get(port)
        assert (status, json.loads(body)["serviceProxyHealthy"], json.loads(body)["localEndpoints"]) == (503, False, 2)
    assert refuses(port)


def test_a_busy_proxy_port_is_a_bind_error():
    with serving(proxy_port=0) as first:
        with pytest.raises(hc.BindError, match=rf":{first.proxy_port} \(proxy health\): Address already in use"):
            HealthCheckServer("127.0.0.1", proxy_port=first.proxy_port)


# --- the program -------------------------------------------------------------------------------

def write_state(path, services: dict, **proxy):
    doc = {"services": {str(p): {"namespace": ns, "name": n, "localEndpoints": c}
                        for p, (ns, n, c) in services.items()},
           "lastUpdated": 1700000000.0, **proxy}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)       # as netlab is to: a reload never reads half a file


class Program:
    """The program as a subprocess; its stderr lines are collected as they come."""

    def __init__(self, state, proxy_port: int, *extra: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "netlab.kube_proxy.healthcheck", "--state", str(state),
                                      "--bind", "127.0.0.1", "--proxy-port", str(proxy_port), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n").removeprefix("kube-proxy-healthcheck: "))

    def wait_line(self, pattern: str) -> str:
        return wait_for(lambda: next((x for x in self.lines if re.search(pattern, x)), None),
                        f"a line matching {pattern!r} in {self.lines}")

    def end(self) -> int:
        rc = self.proc.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)
        return rc


@contextlib.contextmanager
def running(state, proxy_port: int, *extra: str):
    program = Program(state, proxy_port, *extra)
    try:
        yield program
    finally:
        if program.proc.poll() is None:
            program.proc.kill()
        program.proc.wait()


def answer_of(port: int) -> tuple[int, int]:
    status, _, body = get(port)
    return status, json.loads(body)["localEndpoints"]


def test_the_program_serves_its_state_file_reloads_on_sighup_and_ends_on_sigterm(tmp_path):
    state = tmp_path / "healthcheck.json"
    proxy, p1, p2, p3 = free_ports(4)
    write_state(state, {p1: ("default", "web", 2), p2: ("default", "db", 0)})
    with running(state, proxy) as program:
        program.wait_line(r"^ready: ")
        assert get(proxy, "/healthz")[0] == 200
        assert answer_of(p1) == (200, 2) and answer_of(p2) == (503, 0)
        proc = program.proc

        write_state(state, {p1: ("default", "web", 0), p3: ("other", "lb", 1)},
                    pendingSince=1700000001.0)       # a change waiting since 2023: unhealthy
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: get(p3)[0] == 503, "the new port opened")
        status, _, body = get(p3)
        assert json.loads(body) == {"service": {"namespace": "other", "name": "lb"}, "localEndpoints": 1,
                                    "serviceProxyHealthy": False}
        assert answer_of(p1) == (503, 0)
        assert get(proxy, "/healthz")[0] == 503
        assert refuses(p2)

        write_state(state, {p3: ("other", "lb", 1)})
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: refuses(p1), "the removed port closed")
        assert answer_of(p3) == (200, 1)

        proc.send_signal(signal.SIGTERM)
        assert program.end() == 0, program.lines
    assert refuses(p3) and refuses(proxy)
    lines = program.lines
    assert f"open {p1} default/web: 2 local endpoints" in lines
    assert f"change {p1} default/web: 2 -> default/web: 0 local endpoints" in lines
    assert f"close {p2} default/db" in lines and f"open {p3} other/lb: 1 local endpoints" in lines
    assert f"close {p1} default/web" in lines
    assert lines[-1] == "stopped (SIGTERM)"


def test_with_watch_a_rewritten_file_is_read_without_a_signal(tmp_path):
    """How netlab runs it: under netlab-supervise, which passes no SIGHUP on."""
    state = tmp_path / "healthcheck.json"
    proxy, port = free_ports(2)
    write_state(state, {port: ("a", "b", 1)})
    with running(state, proxy, "--watch", "0.05") as program:
        program.wait_line(r"^ready: ")
        assert answer_of(port) == (200, 1)
        write_state(state, {port: ("a", "b", 0)})
        wait_for(lambda: answer_of(port) == (503, 0), "the rewritten file read")
        assert f"change {port} a/b: 1 -> a/b: 0 local endpoints" in program.lines
        program.proc.send_signal(signal.SIGTERM)
        assert program.end() == 0


def test_a_bad_file_at_a_reload_is_one_line_and_the_previous_state_stays(tmp_path):
    state = tmp_path / "healthcheck.json"
    proxy, port = free_ports(2)
    write_state(state, {port: ("a", "b", 1)})
    with running(state, proxy) as program:
        program.wait_line(r"^ready: ")
        state.write_text('{"services": ')
        program.proc.send_signal(signal.SIGHUP)
        line = program.wait_line(r"^reload: ")
        assert re.fullmatch(r"reload: .*healthcheck\.json: not JSON: .*; keeping the previous state", line), line
        assert answer_of(port) == (200, 1)
        write_state(state, {port: ("a", "b", 4)})
        program.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: answer_of(port) == (200, 4), "the good file read")
        program.proc.send_signal(signal.SIGTERM)
        assert program.end() == 0


@pytest.mark.parametrize("content, match", [
    (None, r"healthcheck\.json: cannot read: .*No such file or directory"),
    ('{"services": {"80": {"namespace": "a", "name": "b"}}, "lastUpdated": 1}',
     r"healthcheck\.json: services\['80'\]\.localEndpoints: must be a whole number >= 0, not None"),
])
def test_a_bad_state_file_is_one_line_and_a_failure(tmp_path, content, match):
    state = tmp_path / "healthcheck.json"
    if content is not None:
        state.write_text(content)
    proxy, = free_ports(1)
    with running(state, proxy) as program:
        assert program.end() == 1
    assert len(program.lines) == 1 and re.search(match, program.lines[0]), program.lines
    assert refuses(proxy)


def test_a_busy_port_is_one_line_naming_it_and_a_failure(tmp_path):
    state = tmp_path / "healthcheck.json"
    proxy, free, busy = free_ports(3)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", busy))
    squatter.listen()
    try:
        write_state(state, {free: ("a", "ok", 1), busy: ("a", "taken", 1)})
        with running(state, proxy) as program:
            assert program.end() == 1
        assert program.lines == [f"cannot listen on 127.0.0.1:{busy} (service a/taken): Address already in use"]
        assert refuses(free) and refuses(proxy)     # everything it had opened is closed again
    finally:
        squatter.close()
