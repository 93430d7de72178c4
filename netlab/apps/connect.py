"""Opens TCP connections one after another and counts who answered: netlab-whoami's
name, the pod in an HTTP/JSON app's `served_by`, or `mysql` for a MySQL server.

    netlab-connect 10.254.116.224:50051 --count 300
    netlab-connect 10.254.116.224:50051 --seconds 30      # or until SIGTERM

Prints one JSON line: {"ok": N, "failed": N, "by": {responder: N}, "errors": [...]}.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import time
from collections import Counter


def _identify(first: bytes, sock: socket.socket) -> str:
    """Who answered: whoami's line, an HTTP/JSON app's served_by, or a MySQL server."""
    if len(first) > 5 and first[4] == 10 and b"\x00" in first[5:]:      # MySQL handshake, protocol 10
        return "mysql " + first[5:first.index(b"\x00", 5)].decode(errors="replace")
    data = first
    while not data.endswith(b"\n") or data.startswith(b"HTTP/"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    text = data.decode(errors="replace")
    if text.startswith("HTTP/"):
        body = text.split("\r\n\r\n", 1)[-1].strip()
        try:
            by = json.loads(body)["served_by"]
            return f"{by['pod']} {by['ip']} from {by.get('client', '?')}"
        except (ValueError, KeyError, TypeError):
            return body
    return text.strip()


def once(host: str, port: int, timeout: float) -> str:
    with socket.socket() as s:
        s.settimeout(timeout)
        s.bind(("", 0))
        sport = s.getsockname()[1]
        try:
            s.connect((host, port))
        except OSError as e:
            raise type(e)(f"{e} connecting from port {sport}") from None
        try:
            # ask as HTTP: whoami and the shop's apps answer it; a MySQL server greets first anyway
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            line = _identify(s.recv(65536), s)
        except OSError as e:
            raise type(e)(f"{e} waiting for the answer on port {sport}") from None
    if not line:
        raise ConnectionError(f"closed without an answer on port {sport}")
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-connect", description=__doc__.splitlines()[0])
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--count", type=int, help="connections to open (default: until --seconds or SIGTERM)")
    p.add_argument("--seconds", type=float, help="stop after this long")
    p.add_argument("--timeout", type=float, default=2.0, help="per connection")
    p.add_argument("--interval", type=float, default=0.0, help="pause between connections")
    p.add_argument("--full", action="store_true", help="count whole answer lines, not their first word")
    a = p.parse_args(argv)
    host, _, port = a.target.rpartition(":")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    by: Counter[str] = Counter()
    failed = 0
    errors: list[str] = []
    deadline = time.monotonic() + a.seconds if a.seconds else None
    n = 0
    try:
        while not stop and (a.count is None or n < a.count) and (deadline is None or time.monotonic() < deadline):
            n += 1
            try:
                line = once(host, int(port), a.timeout)
                by[line if a.full else line.split()[0]] += 1
            except OSError as e:
                failed += 1
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {e} (at {time.time():.3f})")
            if a.interval:
                time.sleep(a.interval)
    except KeyboardInterrupt:
        pass
    print(json.dumps({"ok": sum(by.values()), "failed": failed, "by": dict(by), "errors": errors}), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
