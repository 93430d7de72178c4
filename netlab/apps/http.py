"""What the shop's two small HTTP/JSON services share."""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


def start(port: int, routes: dict) -> ThreadingHTTPServer:
    """Listen on `port` and serve in a thread; shutdown() and server_close() stop it."""
    handler = type("Handler", (JSONHandler,), {"routes": routes})
    ThreadingHTTPServer.request_queue_size = 256      # many clients at once (benchmarks)
    server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(f"{me()['pod']} serving on port {port}", flush=True)
    return server


def serve(port: int, routes: dict) -> None:
    start(port, routes)
    threading.Event().wait()
