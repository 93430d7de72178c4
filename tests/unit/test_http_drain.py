"""A terminating pod's HTTP server serves what was already sent to it, then ends (loopback only)."""
import json
import socket
import threading
import time

from netlab.apps import http


def _server():
    gate = threading.Event()

    def slow(_request):
        gate.wait(2)
        return {"ok": True}
    return http.start(0, {"/slow": slow, "/fast": lambda _r: {"ok": True}}), gate


def _get(port: int, path: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return s


def _answer(s: socket.socket) -> dict:
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_drain_answers_requests_in_flight_and_then_refuses():
    server, gate = _server()
    port = server.server_address[1]
    busy = _get(port, "/slow")
    time.sleep(0.1)                                  # being answered when the drain begins
    ended = threading.Thread(target=http.drain, args=(server,))
    ended.start()
    late = _get(port, "/fast")                       # already on its way: served too
    gate.set()
    assert _answer(busy) == {"ok": True} and _answer(late) == {"ok": True}
    ended.join(2)
    assert not ended.is_alive()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused, "the port must be closed once drained (connection refused)"
