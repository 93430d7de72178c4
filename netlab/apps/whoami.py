"""A TCP server that says who answered: `<name> <address>:<port>`, one line per connection.

    python -m netlab.apps.whoami --name data-product-6664c6dcb9-4zk27 --port 50051 [--port ...]

HTTP clients (curl) get the line as an HTTP/1.0 response; anything else gets it as is,
so `nc`, `curl` and a test's socket all see which endpoint a Service picked. An HTTP
path /delay/MS answers after MS milliseconds: a request held in flight (reloads, drains).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import socketserver
import sys
import threading
import time

METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        ip, port = self.request.getsockname()[:2]
        peer = self.client_address[0]
        line = f"{self.server.who} {ip}:{port} from {peer}\n".encode()
        # A client that speaks first is probably HTTP; one that waits gets the line at once.
        self.request.settimeout(0.05)
        try:
            first = self.request.recv(4096)
        except TimeoutError:
            first = b""
        self.request.settimeout(5)
        if first.startswith(METHODS):
            path = first.split(b" ", 2)[1] if first.count(b" ") >= 2 else b"/"
            if path.startswith(b"/delay/") and path[7:].isdigit():
                time.sleep(min(int(path[7:]), 60_000) / 1000)
            head = (f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(line)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            self.request.sendall(head + (b"" if first.startswith(b"HEAD ") else line))
        else:
            self.request.sendall(line)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256        # many clients at once (benchmarks, reload tests)

    def __init__(self, who: str, port: int):
        self.who = who
        super().__init__(("0.0.0.0", port), Handler)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="whoami", description=__doc__.splitlines()[0])
    p.add_argument("--name", default=os.environ.get("POD_NAME") or socket.gethostname())
    p.add_argument("--port", type=int, action="append", required=True)
    a = p.parse_args(argv)
    servers = [Server(a.name, port) for port in a.port]
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(f"whoami {a.name} listening on {', '.join(map(str, a.port))}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    # Terminating: stop accepting, let connections already accepted finish.
    for s in servers:
        s.shutdown()
        s.server_close()
    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
