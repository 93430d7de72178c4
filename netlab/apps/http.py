"""What the shop's two small HTTP/JSON services share."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRAIN_QUIET, DRAIN_LIMIT = 0.1, 0.8     # seconds: within the 1 s the lab gives a pod to end


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
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):   # one line per request on stdout (netlab logs)
        print(f"{self.address_string()} {fmt % args}", flush=True)


class Server(ThreadingHTTPServer):
    """Counts the connections it is serving and knows when it last accepted one (drain)."""
    request_queue_size = 256      # many clients at once (benchmarks)

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.busy, self.last_accept, self._lock = 0, 0.0, threading.Lock()

    def process_request(self, request, client_address):
        with self._lock:
            self.busy += 1
            self.last_accept = time.monotonic()
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        super().shutdown_request(request)
        with self._lock:
            self.busy -= 1


def drain(server: Server, quiet: float = DRAIN_QUIET, limit: float = DRAIN_LIMIT) -> None:
    """End serving as a terminating pod should: the lab took it out of its Service's Endpoints
    before the SIGTERM, but connections already sent to it (in the accept queue, or being
    answered) are still served, until none came for `quiet` seconds (at most `limit`)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with server._lock:
            idle = server.busy == 0 and time.monotonic() - server.last_accept >= quiet
        if idle:
            break
        time.sleep(0.01)
    server.shutdown()
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
