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


def _keep_alive(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=3)


def _ask(s: socket.socket, path: str) -> tuple[str, dict]:
    """One request on a kept-alive connection: the answer's headers (lower case) and body."""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
    while len(body) < length:
        body += s.recv(4096)
    return head.decode().lower(), json.loads(body)


def test_a_request_in_flight_for_longer_than_a_second_holds_the_drain_till_answered():
    server, gate = _server()
    busy = _get(server.server_address[1], "/slow")
    time.sleep(0.1)
    ended = threading.Thread(target=http.drain, args=(server,))
    ended.start()
    time.sleep(1.2)                                  # longer than the lab's old 0.8 s drain and 1 s SIGKILL
    assert ended.is_alive(), "a request in flight must hold the drain"
    gate.set()
    assert _answer(busy) == {"ok": True}
    ended.join(2)
    assert not ended.is_alive()


def test_a_kept_alive_connection_is_told_to_close_and_an_idle_one_is_closed():
    server, _ = _server()
    port = server.server_address[1]
    active, idle = _keep_alive(port), _keep_alive(port)
    head, _ = _ask(active, "/fast")
    assert "connection: close" not in head
    _ask(idle, "/fast")
    t = time.monotonic()
    ended = threading.Thread(target=http.drain, args=(server,))
    ended.start()
    head, body = _ask(active, "/fast")               # a client's next request: answered, and told to go
    assert body == {"ok": True} and "connection: close" in head
    assert active.recv(1) == b"", "the server closes the connection after that answer"
    ended.join(2)
    assert not ended.is_alive() and time.monotonic() - t < 1.0, "idle connections must not hold the drain"
    idle.settimeout(1)
    assert idle.recv(1) == b"", "an idle kept-alive connection is closed once nothing is in flight"
