"""What the shop's two small HTTP/JSON services share."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRAIN_QUIET = 0.1      # seconds without a new connection or request: what was sent to us has come


def me() -> dict:
    return {"pod": os.environ.get("POD_NAME", "?"), "ip": os.environ.get("POD_IP", "?"),
            "node": os.environ.get("NODE_NAME", "?")}


def peer(request: BaseHTTPRequestHandler) -> dict:
    """Who sent the request: the connection's source, and the client a proxy names."""
    out = {"ip": request.client_address[0]}
    if request.headers.get("X-Forwarded-For"):
        out["forwarded_for"] = request.headers["X-Forwarded-For"]
    return out


class JSONHandler(BaseHTTPRequestHandler):
    """GET PATH -> routes[PATH](request) as JSON; anything else 404."""
    routes: dict = {}
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers (40 ms on Linux)
    disable_nagle_algorithm = True
    server: "Server"

    def do_GET(self):  # noqa: N802 - the http.server hook's name
        route = self.routes.get(self.path.split("?")[0])
        if route is None:    # says who answered all the same, for netlab-connect and curl
            return self.reply(404, {"error": f"no such path {self.path}",
                                    "served_by": {**me(), "client": self.client_address[0]}})
        try:
            self.reply(200, route(self))
        except Exception as e:  # noqa: BLE001 - the caller sees why, as JSON
            self.reply(503, {"error": f"{type(e).__name__}: {e}", "served_by": me()})

    def reply(self, status: int, body: dict) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        if self.server.draining:         # the client's next request opens a connection elsewhere
            self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_one_request(self):
        self.server.busy(self.connection, False)       # waiting for the connection's next request
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.busy(self.connection, True)        # its request line has come
        return super().parse_request()

    def log_message(self, fmt, *args):   # one line per request on stdout (netlab logs)
        print(f"{self.address_string()} {fmt % args}", flush=True)


class Server(ThreadingHTTPServer):
    """Knows which of its connections have a request in flight, and when it last accepted a
    connection or began a request (drain)."""
    request_queue_size = 256      # many clients at once (benchmarks)

    def __init__(self, address, handler) -> None:
        super().__init__(address, handler)
        self.draining, self.last_seen, self._lock = False, 0.0, threading.Lock()
        self._conns: dict[socket.socket, bool] = {}     # open connection -> a request in flight

    def process_request(self, request, client_address):
        self.busy(request, False)
        super().process_request(request, client_address)

    def busy(self, conn: socket.socket, in_flight: bool) -> None:
        with self._lock:
            self._conns[conn] = in_flight
            self.last_seen = time.monotonic()

    def shutdown_request(self, request):
        with self._lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def settled(self, quiet: float) -> bool:
        """No request in flight, none begun nor connection accepted for `quiet` seconds, and
        none come on a kept-alive connection that its thread has not read yet (a busy host)."""
        with self._lock:
            if any(self._conns.values()) or time.monotonic() - self.last_seen < quiet:
                return False
            # under the lock: a connection leaves the table before it is closed
            return not select.select(list(self._conns), [], [], 0)[0]

    def close_idle(self) -> None:
        """End the keep-alive connections waiting for a request: their clients connect again."""
        with self._lock:
            idle = [conn for conn, in_flight in self._conns.items() if not in_flight]
        for conn in idle:
            try:
                conn.shutdown(socket.SHUT_RDWR)     # its handler reads the end and closes it
            except OSError:
                pass


def drain(server: Server, quiet: float = DRAIN_QUIET, limit: float | None = None) -> None:
    """End serving as a terminating pod should: the lab took it out of its Service's Endpoints
    before the SIGTERM, but what was already sent to it (connections in the accept queue,
    requests being answered, the next request on a keep-alive connection) is still served,
    each answer saying `Connection: close`, until none came for `quiet` seconds; then the
    idle connections are closed. However long that takes (at most `limit`, if given): the
    kubelet's SIGKILL at the end of the pod's grace period bounds it."""
    server.draining = True
    deadline = time.monotonic() + limit if limit is not None else None
    while not server.settled(quiet) and (deadline is None or time.monotonic() < deadline):
        time.sleep(0.01)
    server.shutdown()
    server.close_idle()
    server.server_close()


def on_sigterm() -> threading.Event:
    """An event set by SIGTERM (the lab's, or the kubelet's, when the pod goes)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def start(port: int, routes: dict) -> Server:
    """Listen on `port` and serve in a thread; drain() (or shutdown() and server_close()) stops it."""
    handler = type("Handler", (JSONHandler,), {"routes": routes})
    server = Server(("0.0.0.0", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(f"{me()['pod']} serving on port {port}", flush=True)
    return server


def serve(port: int, routes: dict) -> None:
    """Serve until SIGTERM, then drain."""
    stop = on_sigterm()
    server = start(port, routes)
    stop.wait()
    drain(server)
