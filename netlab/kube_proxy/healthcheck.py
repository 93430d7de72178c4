"""kube-proxy's health-check servers: one per externalTrafficPolicy=Local load balancer,
and the proxy's own /healthz and /livez.

What v1.33 answers (pkg/proxy/healthcheck, service_health.go and proxy_health.go, with the
schema of kubernetes#129271, new in v1.33; read at service_health.go 124526cf,
proxy_health.go 81810de6, which differs from v1.33's only in how it is given the Node, and
healthcheck_test.go 898b9f80):

- On a Service's spec.healthCheckNodePort, any method and any path: 200 when this node has
  local endpoints for the Service and the proxy is healthy, else 503. Headers Content-Type
  application/json, X-Content-Type-Options nosniff, X-Load-Balancing-Endpoint-Weight (the
  local endpoint count); the body is tab-indented JSON with the service's namespace and
  name, localEndpoints and serviceProxyHealthy.
- On the proxy's port (10256), /healthz and /livez: compact JSON with lastUpdated,
  currentTime, nodeEligible (healthz only), healthy and status (per IP family; netlab is
  IPv4 only). The proxy is unhealthy when a change has waited for a sync longer than the
  health timeout (2 x --sync-period, 60 s by default); it is not unhealthy merely because
  nothing changed for a long time. /healthz is also 503 when the node is not eligible
  (being deleted, or tainted ToBeDeletedByClusterAutoscaler); /livez ignores that. A
  healthy answer reports lastUpdated as the current time, as kube-proxy does for old
  clients. Any other path is Go's 404.

Pure: service_answer, proxy_healthy, proxy_answer, go_time, parse_state, changes.
HealthCheckServer holds every listener of one process; update() opens, closes and
changes them in place.

The program, for netlab to run inside each node's network namespace:

    ip netns exec NODE python -m netlab.kube_proxy.healthcheck --state FILE \\
        [--bind ADDR] [--proxy-port 10256] [--health-timeout 60]

FILE is JSON (write it to a temporary name and rename it over FILE, so that a reload never
reads half a file):

    {"services": {"<port>": {"namespace": "default", "name": "web", "localEndpoints": 2}},
     "lastUpdated": 1700000000.5,     # epoch seconds of the last sync; null: none yet
     "pendingSince": null,            # optional: oldest change not yet synced (epoch seconds)
     "nodeEligible": true}            # optional, default true

It reads FILE at start, and again on SIGHUP: send SIGHUP after rewriting FILE, and only
once the process is ready (its "ready:" line, or its proxy port answers): before that,
SIGHUP kills it. It logs one line per change to stderr. SIGTERM (or SIGINT) closes every
socket and exits 0. At start, a bad FILE or a port that cannot be bound is one line on
stderr and exit status 1; on a reload a bad FILE keeps the previous state and a port that
cannot be bound is left closed and tried again at the next reload (kube-proxy keeps
running too), each one line.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

PROG = "kube-proxy-healthcheck"
PROXY_PORT = 10256              # kube-proxy's --healthz-bind-address port
HEALTH_TIMEOUT = 60.0           # 2 x the default --sync-period (30 s)
MAX_BODY = 1 << 20              # a request body we read and drop; larger: close the connection

Services = Mapping[int, tuple[str, str, int]]      # port -> (namespace, name, local endpoints)


class Answer(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


# --- the answers (pure) ----------------------------------------------------------------------

def _json_headers(*extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"), *extra)


def service_answer(namespace: str, name: str, local_endpoints: int, proxy_healthy: bool = True) -> Answer:
    """What a Service's health-check port answers, whatever the request."""
    doc = {"service": {"namespace": namespace, "name": name},
           "localEndpoints": local_endpoints, "serviceProxyHealthy": proxy_healthy}
    # kube-proxy writes this document indented with tabs, without a final newline
    body = json.dumps(doc, indent="\t").encode()
    status = 200 if local_endpoints != 0 and proxy_healthy else 503
    return Answer(status, _json_headers(("X-Load-Balancing-Endpoint-Weight", str(local_endpoints))), body)


@dataclass(frozen=True)
class ProxyState:
    """What the proxy's health depends on (epoch seconds)."""
    last_updated: float | None = None       # the last successful sync; None: none yet
    pending_since: float | None = None      # the oldest change not synced yet; None: none
    node_eligible: bool = True              # false: the node is being deleted or drained


def proxy_healthy(state: ProxyState, now: float, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Healthy unless a change has waited `timeout` for a sync. Before the first sync the
    proxy is starting up, and healthy."""
    if state.last_updated is None or state.pending_since is None:
        return True
    return now - state.pending_since < timeout


def go_time(seconds: float | None) -> str:
    """A time as Go's encoding/json writes a UTC time.Time (RFC 3339, fraction without
    trailing zeros); None is Go's zero time. Microseconds: a float holds no more."""
    if seconds is None:
        return "0001-01-01T00:00:00Z"
    micros = round(seconds * 1_000_000)
    whole, frac = divmod(micros, 1_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return text + (f".{frac:06d}".rstrip("0") if frac else "") + "Z"


_NOT_FOUND = Answer(404, (("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")),
                    b"404 page not found\n")


def proxy_answer(path: str, state: ProxyState, now: float, timeout: float = HEALTH_TIMEOUT) -> Answer:
    """What the proxy's health port answers for `path` (a request target: /healthz?x is /healthz)."""
    endpoint = urlsplit(path).path
    if endpoint not in ("/healthz", "/livez"):
        return _NOT_FOUND
    healthy = proxy_healthy(state, now, timeout)
    ok = healthy and (state.node_eligible or endpoint == "/livez")
    # healthy: lastUpdated is "now", as older kube-proxies reported a sync loop that always ran
    doc: dict[str, Any] = {"lastUpdated": go_time(now if ok else state.last_updated), "currentTime": go_time(now)}
    if endpoint == "/healthz":
        doc["nodeEligible"] = state.node_eligible
    doc["healthy"] = healthy
    if state.last_updated is not None:         # a family that never synced has no status
        doc["status"] = {"IPv4": {"lastUpdated": go_time(state.last_updated), "healthy": healthy}}
    return Answer(200 if ok else 503, _json_headers(), json.dumps(doc, separators=(",", ":")).encode())


# --- the state file (pure) --------------------------------------------------------------------

class StateError(ValueError):
    pass


@dataclass(frozen=True)
class State:
    services: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    proxy: ProxyState = ProxyState()


def _time(doc: dict, key: str, required: bool) -> float | None:
    if key not in doc:
        if required:
            raise StateError(f"{key}: missing (epoch seconds, or null)")
        return None
    value = doc[key]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise StateError(f"{key}: must be epoch seconds or null, not {value!r}")
    return float(value)


def _service(key: str, entry: Any) -> tuple[int, tuple[str, str, int]]:
    where = f"services[{key!r}]"
    if not key.isdigit() or not 1 <= int(key) <= 65535:
        raise StateError(f"{where}: the key must be a port number, 1 to 65535")
    if not isinstance(entry, dict):
        raise StateError(f"{where}: must be an object with namespace, name and localEndpoints")
    for k in ("namespace", "name"):
        if not isinstance(entry.get(k), str) or not entry[k]:
            raise StateError(f"{where}.{k}: must be a non-empty string, not {entry.get(k)!r}")
    count = entry.get("localEndpoints")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise StateError(f"{where}.localEndpoints: must be a whole number >= 0, not {count!r}")
    return int(key), (entry["namespace"], entry["name"], count)


def parse_state(text: str) -> State:
    """The state file's text -> State; StateError says what is wrong, in one line."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise StateError("must be a JSON object with services and lastUpdated")
    raw = doc.get("services", None)
    if not isinstance(raw, dict):
        raise StateError(f"services: must be an object (port -> service), not {raw!r}")
    services: dict[int, tuple[str, str, int]] = {}
    for key, entry in raw.items():
        port, service = _service(key, entry)
        if port in services:
            raise StateError(f"services: port {port} is given twice")
        services[port] = service
    eligible = doc.get("nodeEligible", True)
    if not isinstance(eligible, bool):
        raise StateError(f"nodeEligible: must be true or false, not {eligible!r}")
    proxy = ProxyState(_time(doc, "lastUpdated", True), _time(doc, "pendingSince", False), eligible)
    return State(services, proxy)


def read_state(path: Path) -> State:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise StateError(f"{path}: cannot read: {e}") from None
    try:
        return parse_state(text)
    except StateError as e:
        raise StateError(f"{path}: {e}") from None


def write_state(path: Path, services: Services, last_updated: float | None) -> None:
    """The state file for the program (read_state's inverse), whole or not at all: a reload
    never reads half a file."""
    doc = {"services": {str(port): {"namespace": ns, "name": name, "localEndpoints": count}
                        for port, (ns, name, count) in sorted(services.items())},
           "lastUpdated": last_updated}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


def changes(old: Services, new: Services) -> list[str]:
    """One line per port opened, closed or changed, in port order."""
    lines = []
    for port in sorted(set(old) | set(new)):
        was, now = old.get(port), new.get(port)
        if was == now:
            continue
        if was is None:
            lines.append(f"open {port} {now[0]}/{now[1]}: {now[2]} local endpoints")   # type: ignore[index]
        elif now is None:
            lines.append(f"close {port} {was[0]}/{was[1]}")
        else:
            lines.append(f"change {port} {was[0]}/{was[1]}: {was[2]} -> {now[0]}/{now[1]}: {now[2]} local endpoints")
    return lines


# --- the listeners --------------------------------------------------------------------------

class BindError(OSError):
    """Ports that could not be opened: {port: (what it was for, the error)}; `changes`:
    what the update that raised it did all the same."""

    def __init__(self, bind: str, failures: dict[int, tuple[str, OSError]], changes: list[str] | None = None):
        self.failures, self.changes = failures, changes or []
        super().__init__("; ".join(f"cannot listen on {bind}:{port} ({what}): {err.strerror or err}"
                                   for port, (what, err) in sorted(failures.items())))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, as Go's server
    timeout = 30                        # an idle connection goes after this
    server: _Listener                   # type: ignore[assignment]

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass                            # a load balancer asks every few seconds: no line each time

    def send_response(self, code, message=None):
        self.send_response_only(code, message)      # Go sends Date, and no Server header
        self.send_header("Date", self.date_time_string())

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
        elif length:
            self.rfile.read(length)     # the connection carries the next request after it
        answer = self.server.answer(self.path)
        if answer is None:              # the port is being closed
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer   # noqa: N815


class _Listener:
    """One listening socket, its accepting thread and a thread a connection. close() makes
    the port refuse connections at once and drops the open ones, as Go's Server.Close."""

    def __init__(self, bind: str, port: int, answer: Callable[[str], Answer | None]):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as Go's listeners
            self.sock.bind((bind, port))
            self.sock.listen(128)
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name=f"healthcheck-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:             # close() shut the socket down
                return
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: Any) -> None:
        try:
            _Handler(conn, peer, self)  # type: ignore[arg-type]
        except (OSError, ValueError):   # the client went, or close() dropped the connection
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = list(self._conns)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # wakes accept() (Linux); then connects are refused
        except OSError:
            pass
        self.sock.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join()


class HealthCheckServer:
    """Every health-check listener of one node: a port per Service (update()) and, if
    proxy_port is given, the proxy's own (0: any free port, see proxy_port)."""

    def __init__(self, bind: str = "0.0.0.0", proxy_port: int | None = None,
                 health_timeout: float = HEALTH_TIMEOUT, clock: Callable[[], float] = time.time):
        self.bind, self.health_timeout, self.clock = bind, health_timeout, clock
        self._lock = threading.RLock()
        self._services: dict[int, tuple[str, str, int]] = {}
        self._listeners: dict[int, _Listener] = {}
        self._proxy_state = ProxyState()
        self._proxy: _Listener | None = None
        if proxy_port is not None:
            try:
                self._proxy = _Listener(bind, proxy_port, self._proxy_answer)
            except OSError as e:
                raise BindError(bind, {proxy_port: ("proxy health", e)}) from None

    @property
    def proxy_port(self) -> int | None:
        return self._proxy.port if self._proxy else None

    @property
    def services(self) -> dict[int, tuple[str, str, int]]:
        with self._lock:
            return dict(self._services)

    def set_proxy(self, state: ProxyState) -> None:
        with self._lock:
            self._proxy_state = state

    def _proxy_answer(self, path: str) -> Answer:
        with self._lock:
            state = self._proxy_state
        return proxy_answer(path, state, self.clock(), self.health_timeout)

    def _service_answer(self, port: int) -> Answer | None:
        with self._lock:
            service, state = self._services.get(port), self._proxy_state
        if service is None:
            return None
        return service_answer(*service, proxy_healthy(state, self.clock(), self.health_timeout))

    def _answers_for(self, port: int) -> Callable[[str], Answer | None]:
        return lambda _path: self._service_answer(port)     # any path: the same answer

    def update(self, services: Services) -> list[str]:
        """Make `services` the open ports: close the others, open new ones, change the
        answers of the rest in place. Returns changes() of what was done; a port that
        cannot be opened is left out (a later update tries again), and BindError names
        every such port once the rest is done."""
        with self._lock:
            before = dict(self._services)
            for port in [p for p in self._listeners if p not in services]:
                self._listeners.pop(port).close()
                del self._services[port]
            failures: dict[int, tuple[str, OSError]] = {}
            for port, service in services.items():
                if port not in self._listeners:
                    try:
                        self._listeners[port] = _Listener(self.bind, port, self._answers_for(port))
                    except OSError as e:
                        failures[port] = (f"service {service[0]}/{service[1]}", e)
                        continue
                self._services[port] = service
            done = changes(before, self._services)
        if failures:
            raise BindError(self.bind, failures, done)
        return done

    def close(self) -> None:
        with self._lock:
            for listener in self._listeners.values():
                listener.close()
            self._listeners.clear()
            self._services.clear()
            if self._proxy is not None:
                self._proxy.close()
                self._proxy = None


# --- the program ----------------------------------------------------------------------------

def _log(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def _proxy_line(old: ProxyState | None, new: ProxyState) -> str | None:
    if old == new:
        return None
    return (f"proxy: lastUpdated {new.last_updated}, pendingSince {new.pending_since}, "
            f"nodeEligible {str(new.node_eligible).lower()}")


def _update(server: HealthCheckServer, services: Services) -> tuple[list[str], BindError | None]:
    """update(), with what it did even when a port could not be opened."""
    try:
        return server.update(services), None
    except BindError as e:
        return e.changes, e


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells a rewritten FILE (renamed over: a new inode) from the one read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m netlab.kube_proxy.healthcheck",
                                description="kube-proxy's health-check servers, from a state file")
    p.add_argument("--state", required=True, type=Path, help="the JSON state file (see the module's docstring)")
    p.add_argument("--bind", default="0.0.0.0", help="the address to listen on (default 0.0.0.0: all)")
    p.add_argument("--proxy-port", type=int, default=PROXY_PORT, help="the proxy's /healthz and /livez port")
    p.add_argument("--health-timeout", type=float, default=HEALTH_TIMEOUT,
                   help="seconds a change may wait for a sync before the proxy is unhealthy")
    p.add_argument("--watch", type=float, default=0, metavar="SECONDS",
                   help="also reload when FILE changes, looking every SECONDS (default 0: on SIGHUP only); "
                        "for a supervised process, whose supervisor would not pass SIGHUP on")
    args = p.parse_args(argv)
    # before any thread starts, so that every thread inherits the mask: sigwait() gets them
    wanted = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        state = read_state(args.state)
    except StateError as e:
        _log(str(e))
        return 1
    try:
        server = HealthCheckServer(args.bind, args.proxy_port, args.health_timeout)
    except BindError as e:
        _log(str(e))
        return 1
    lines, failed = _update(server, state.services)
    if failed is not None:      # one line, the failure: nothing stays open
        server.close()
        _log(str(failed))
        return 1
    server.set_proxy(state.proxy)
    for line in lines + [x for x in [_proxy_line(None, state.proxy)] if x]:
        _log(line)
    _log(f"ready: proxy health on {args.bind}:{server.proxy_port}, {len(state.services)} service ports")
    seen = _stamp(args.state)
    while True:
        if args.watch:
            info = signal.sigtimedwait(wanted, args.watch)
            sig = info.si_signo if info is not None else signal.SIGHUP
            if info is None and _stamp(args.state) == seen:
                continue
        else:
            sig = signal.sigwait(wanted)
        if sig != signal.SIGHUP:
            break
        seen = _stamp(args.state)
        try:
            new = read_state(args.state)
        except StateError as e:
            _log(f"reload: {e}; keeping the previous state")
            continue
        lines, failed = _update(server, new.services)
        server.set_proxy(new.proxy)
        for line in lines + [x for x in [_proxy_line(state.proxy, new.proxy)] if x]:
            _log(line)
        if failed is not None:
            _log(f"reload: {failed}; trying again at the next reload")
        state = new
    server.close()
    _log(f"stopped ({signal.Signals(sig).name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
