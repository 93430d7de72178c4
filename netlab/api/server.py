"""netlab-apiserver: a lab's Kubernetes API over HTTPS on 127.0.0.1.

    netlab-apiserver --lab NAME

Serves discovery, get, list and watch of the lab's objects (JSON, or meta.k8s.io Tables
when kubectl asks for them), pods' logs, and writes (netlab.api.writes: create, update,
patch, delete, deployments/scale); every request needs the lab's bearer token. The standard library's
ThreadingHTTPServer: one thread a connection (watches and `logs -f` hold theirs), TLS from
the ssl module, nothing to install; it ends when the lab's directory goes.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Sequence
from urllib.parse import parse_qs, urlsplit

from netlab import layout
from netlab.api import auth, incluster, openapi, resources, selectors
from netlab.api import writes as writes_module
from netlab.api.lifecycle import Files
from netlab.api.objects import Item
from netlab.api.store import Event, Store
from netlab.state import LabRecord

WATCH_TIMEOUT = 1800.0          # a watch without timeoutSeconds ends after this, as the API server's do
FOLLOW_POLL = 0.05


HTTPError = writes_module.APIError
_bad = writes_module.bad


def _media(accept: str) -> tuple[str, str] | None:
    """What to answer with: ("table", "v1"|"v1beta1") or ("json", ""); None: nothing we can give."""
    if not accept.strip():
        return "json", ""
    for entry in accept.split(","):
        kind, *params = [x.strip() for x in entry.split(";")]
        opts = dict(p.partition("=")[::2] for p in params)
        if kind not in ("application/json", "application/*", "*/*"):
            continue
        if opts.get("as") == "Table" and opts.get("g") == "meta.k8s.io" and opts.get("v") in ("v1", "v1beta1"):
            return "table", opts["v"]
        if "as" not in opts:
            return "json", ""
    return None


class Request:
    """One request's selectors and options, read from its query."""

    def __init__(self, r: resources.Resource, namespace: str | None, name: str | None, query: dict[str, list[str]]):
        def one(key: str) -> str | None:
            return query[key][-1] if key in query else None
        self.resource, self.namespace, self.name = r, namespace, name
        try:
            self.labels = selectors.parse_labels(one("labelSelector"))
            self.fields = selectors.parse_fields(one("fieldSelector"), r.supported_fields)
        except selectors.SelectorError as e:
            raise _bad(str(e)) from None
        self.watch = (one("watch") or "").lower() in ("true", "1")
        self.resource_version = one("resourceVersion")
        timeout = one("timeoutSeconds")
        try:
            self.timeout = float(timeout) if timeout else WATCH_TIMEOUT
        except ValueError:
            raise _bad(f"timeoutSeconds: {timeout!r} is not a number") from None
        self.include = one("includeObject") or "Metadata"
        if self.include not in ("Object", "Metadata", "None"):
            raise _bad(f"includeObject: {self.include!r} must be Object, Metadata or None")

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name is not None and meta["name"] != self.name:
            return False
        return selectors.labels_match(self.labels, meta.get("labels")) and selectors.fields_match(self.fields, obj)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, store: Store, token: str, tls: ssl.SSLContext | None,
                 sock: socket.socket | None = None):
        self.store, self.token, self.tls = store, token, tls
        self.writes = writes_module.Writes.of(store)        # one for the store's servers: they share its lock
        self.lab = store.lab
        if sock is None:
            super().__init__(("127.0.0.1", port), Handler)      # the host's loopback, and nothing else
        else:       # a socket listening already: the lab's own address (incluster.listener)
            super().__init__(sock.getsockname(), Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = sock

    def finish_request(self, request, client_address):
        """The TLS handshake in the connection's own thread, not the one accepting."""
        # headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold the body back 40 ms
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        try:
            conn.settimeout(Handler.timeout)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "netlab-apiserver"
    timeout = 300
    server: Server

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {format % args}\n")

    # ---- answers ---------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, ctype: str = "application/json", warnings: Sequence[str] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for w in warnings:          # kubectl prints them: "Warning: ..."
            self.send_header("Warning", '299 - "' + w.replace('"', "'") + '"')
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, doc: dict, warnings: Sequence[str] = ()) -> None:
        self._send(code, json.dumps(doc).encode(), warnings=warnings)

    def _status(self, doc: dict) -> None:
        self._json(doc["code"], doc)

    def _start_stream(self, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _client_gone(self) -> bool:
        """A watch's client sends nothing more: something to read is its goodbye (or EOF)."""
        try:
            return bool(select.select([self.connection], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    # ---- verbs -----------------------------------------------------------------------------
    def _authorized(self) -> bool:
        """Who asks (self.identity: the lab's admin or a pod's service account) and whether
        they may (auth.py); else the answer is sent, 401 or 403."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        self.identity = auth.identity(self.server.token, token.strip()) if scheme.lower() == "bearer" else None
        if self.identity is None:
            self._status(resources.status(401, "Unauthorized"))
            return False
        info = auth.request_info(self.command, self.path)
        if not auth.may(self.identity, info):
            self.close_connection = True        # (a body it may have sent is left unread)
            self._status(auth.forbidden(self.identity, info))
            return False
        return True

    def do_GET(self):  # noqa: N802 - http.server's names
        if not self._authorized():
            return
        try:
            self._get()
        except HTTPError as e:
            self._status(e.status)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, verb: str) -> None:
        body = self._body()             # read whatever comes: the connection carries the next request
        if not self._authorized():
            return
        try:
            self._written(verb, body)
        except HTTPError as e:
            self._status(e.status)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def do_POST(self):  # noqa: N802
        self._write("create")

    def do_PUT(self):  # noqa: N802
        self._write("update")

    def do_PATCH(self):  # noqa: N802
        self._write("patch")

    def do_DELETE(self):  # noqa: N802
        self._write("delete")

    def _written(self, verb: str, body: bytes) -> None:
        r, namespace, name, sub, query = self._route()
        writes = self.server.writes
        dry_run = "All" in query.get("dryRun", [])
        if sub == "scale" and name and verb in ("update", "patch"):
            ctype = None if verb == "update" else self._content_type()
            return self._json(200, writes.scale(r, namespace or "", name, ctype, body, dry_run))
        if sub is not None or not r.writable or (verb == "create") != (name is None):
            raise HTTPError(resources.status(405, f"{verb} is not supported on {urlsplit(self.path).path}"))
        warnings: list[str] = []
        if name is None:
            obj, warnings = writes.create(r, namespace, writes_module.decode(body, self._content_type()), dry_run)
            code = 201
        elif verb == "update":
            obj, warnings = writes.replace(r, namespace, name, writes_module.decode(body, self._content_type()),
                                           dry_run)
            code = 200
        elif verb == "patch":
            obj, warnings, made = writes.patch(r, namespace, name, self._content_type(), body, dry_run)
            code = 201 if made else 200
        else:
            obj, code = writes.delete(r, namespace, name, dry_run), 200
        self._json(code, obj, warnings)

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()

    # ---- routing ---------------------------------------------------------------------------
    def _route(self) -> tuple[resources.Resource, str | None, str | None, str | None, dict[str, list[str]]]:
        """The resource a URL names: (resource, namespace, name, subresource, query)."""
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query, keep_blank_values=True)
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise self._no_such_path()
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        r = resources.BY_PATH.get((group, version, rest[0])) if rest else None
        if r is None or len(rest) > 3 or (namespace is not None and not r.namespaced) \
                or (len(rest) > 1 and r.namespaced and namespace is None):
            raise self._no_such_path()
        sub = rest[2] if len(rest) == 3 else None
        if sub is not None and (r.name, sub) not in (("pods", "log"), ("deployments", "scale")) \
                and not (sub == "status" and r.name in resources.WITH_STATUS):
            raise self._no_such_path()
        return r, namespace, rest[1] if len(rest) >= 2 else None, sub, query

    def _get(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query, keep_blank_values=True)
        address = f"127.0.0.1:{self.server.server_address[1]}"
        fixed = {(): {"paths": ["/api", "/api/v1", "/apis", "/version"]
                      + [f"/apis/{g}" for g, _ in resources.GROUPS]
                      + [f"/apis/{g}/{v}" for g, v in resources.GROUPS]},
                 ("version",): resources.VERSION, ("api",): resources.api_versions(address),
                 ("apis",): resources.group_list(), ("api", "v1"): resources.resource_list("", "v1")}
        if tuple(parts) in fixed:
            return self._json(200, fixed[tuple(parts)])     # type: ignore[arg-type]
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return self._send(200, b"ok", "text/plain")
        if parts[:2] == ["openapi", "v3"]:
            rest = parts[2:]
            doc = openapi.index() if not rest else openapi.document(
                "" if rest[:1] == ["api"] else rest[1] if len(rest) == 3 else "?", rest[-1])
            if doc is None:
                raise self._no_such_path()
            return self._json(200, doc)
        if parts[:1] == ["apis"] and len(parts) in (2, 3):
            doc = resources.group(parts[1]) if len(parts) == 2 else resources.resource_list(parts[1], parts[2])
            if doc is None:
                raise self._no_such_path()
            return self._json(200, doc)
        r, namespace, name, sub, query = self._route()
        if sub == "log":
            assert namespace is not None and name is not None
            return self._log(namespace, name, query)
        if sub == "scale":
            assert name is not None
            item = self.server.writes.current(r, namespace, name)
            if item is None:
                raise HTTPError(resources.not_found(r, name))
            return self._json(200, self.server.writes.scale_of(item))
        req = Request(r, namespace, name, query)
        media = _media(self.headers.get("Accept", ""))
        if media is None:
            raise HTTPError(resources.status(406, f"only application/json (and its Tables) is served, "
                                                  f"not {self.headers.get('Accept')!r}"))
        if req.watch:
            return self._watch(req, media)
        if name is not None:
            return self._one(req, media)
        return self._list(req, media)

    def _no_such_path(self) -> HTTPError:
        return HTTPError(resources.status(404, "the server could not find the requested resource",
                                          {}, "NotFound"))

    # ---- get, list, watch --------------------------------------------------------------------
    def _table(self, req: Request, items: list[Item], rv: int, version: str) -> dict:
        now = time.time()
        return resources.table(req.resource.name, [(i.cells(now), i.obj) for i in items], str(rv), req.include,
                               version)

    def _one(self, req: Request, media: tuple[str, str]) -> None:
        rv, items, _ = self.server.store.snapshot(req.resource.store_name)
        found = [i for i in items if req.matches(i.obj)]
        if not found:
            raise HTTPError(resources.not_found(req.resource, req.name or ""))
        self._json(200, self._table(req, found, rv, media[1]) if media[0] == "table" else found[0].obj)

    def _list(self, req: Request, media: tuple[str, str]) -> None:
        rv, items, _ = self.server.store.snapshot(req.resource.store_name)
        found = [i for i in items if req.matches(i.obj)]
        if media[0] == "table":
            return self._json(200, self._table(req, found, rv, media[1]))
        r = req.resource
        self._json(200, {"kind": f"{r.kind}List", "apiVersion": r.group_version,
                         "metadata": {"resourceVersion": str(rv)}, "items": [i.obj for i in found]})

    def _event(self, req: Request, media: tuple[str, str], kind: str, obj: dict, item: Item) -> None:
        body = resources.table(req.resource.name, [(item.cells(time.time()), obj)], obj["metadata"]["resourceVersion"],
                               req.include, media[1]) if media[0] == "table" else obj
        self._chunk(json.dumps({"type": kind, "object": body}).encode() + b"\n")

    def _send_events(self, req: Request, media: tuple[str, str], events: list[Event]) -> None:
        for e in events:
            if e.resource != req.resource.store_name:
                continue
            was, now = req.matches(e.old), req.matches(e.new)
            if e.type == "DELETED" or (was and not now):
                if was:
                    assert e.new is not None
                    self._event(req, media, "DELETED", e.new, e.item)
            elif now:
                assert e.new is not None
                self._event(req, media, "MODIFIED" if was else "ADDED", e.new, e.item)

    def _watch(self, req: Request, media: tuple[str, str]) -> None:
        store = self.server.store
        deadline = time.monotonic() + req.timeout
        if req.resource_version in (None, "", "0"):
            _, items, seq = store.snapshot(req.resource.store_name)
            self._start_stream("application/json")
            for i in items:
                if req.matches(i.obj):
                    self._event(req, media, "ADDED", i.obj, i)
        else:
            try:
                resumed = store.resume(int(req.resource_version))
            except ValueError:
                raise _bad(f"resourceVersion: {req.resource_version!r} is not one this server gave") from None
            self._start_stream("application/json")
            if resumed is None:
                gone = resources.status(410, f"too old resource version: {req.resource_version} ({store.floor})")
                self._chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                return self._end_stream()
            events, seq = resumed
            self._send_events(req, media, events)
        while not store.stopped:
            left = deadline - time.monotonic()
            if left <= 0 or self._client_gone():
                break
            events, seq_now = store.wait(seq, min(left, 1.0))
            self._send_events(req, media, events)
            seq = seq_now
        self._end_stream()

    # ---- logs ------------------------------------------------------------------------------
    def _log(self, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        pods = resources.BY_PATH[("", "v1", "pods")]
        _, items, _ = self.server.store.snapshot("pods")
        if not any(i.key == (namespace, name) for i in items):
            raise HTTPError(resources.not_found(pods, name))
        path = self.server.lab.dir.logs / layout.log_file(layout.pod_proc(namespace, name))

        def number(key: str) -> int | None:
            text = query.get(key, [""])[-1]
            if not text:
                return None
            try:
                value = int(text)
            except ValueError:
                raise _bad(f"{key}: {text!r} is not a whole number") from None
            if value < 0:
                raise _bad(f"{key}: must be >= 0")
            return value
        tail, limit = number("tailLines"), number("limitBytes")
        follow = query.get("follow", [""])[-1].lower() in ("true", "1")
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise _bad(f'container in pod "{name}" is waiting to start: the pod runs no process, '
                       f'so it has no logs') from None
        with f:
            data = f.read()
            if tail is not None:
                data = b"".join(data.splitlines(keepends=True)[-tail:]) if tail else b""
            if limit is not None:
                data = data[:limit]
            if not follow:
                return self._send(200, data, "text/plain")
            self._start_stream("text/plain")
            self._chunk(data)
            sent = len(data)
            while not self.server.store.stopped and not self._client_gone():
                if limit is not None and sent >= limit:
                    break
                more = f.read()
                if more:
                    if limit is not None:
                        more = more[:limit - sent]
                    self._chunk(more)
                    sent += len(more)
                    continue
                _, items, _ = self.server.store.snapshot("pods")
                if not any(i.key == (namespace, name) for i in items):
                    break               # the pod is gone: so is its log's stream
                time.sleep(FOLLOW_POLL)
            self._end_stream()


def tls_context(files: Files) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.server_crt, files.server_key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serve(lab_name: str) -> int:
    lab = LabRecord(lab_name)
    files = Files(lab.dir)
    store = Store(lab)
    store.refresh(force=True)
    server = Server(files.port(), store, files.token(), tls_context(files))
    servers = [server]
    try:        # and inside the lab, for pods: the kubernetes Service's endpoint, on the first node
        inside = incluster.listener(lab_name, lab.cluster())
    except OSError as e:        # kubectl is served all the same
        print(f"netlab-apiserver: cannot listen inside the lab: {e}", file=sys.stderr, flush=True)
        inside = None
    if inside is not None:
        servers.append(Server(0, store, files.token(), tls_context(files), sock=inside))
        threading.Thread(target=servers[1].serve_forever, kwargs={"poll_interval": 0.1}, name="in-lab",
                         daemon=True).start()
    lab_gone = threading.Event()

    def follow() -> None:
        store.follow(until=lambda: not lab.dir.path.exists())
        lab_gone.set()
        for s in servers:
            s.shutdown()
    threading.Thread(target=follow, name="store", daemon=True).start()
    print(f"netlab-apiserver: lab {lab_name!r} on "
          + " and ".join(f"https://{s.socket.getsockname()[0]}:{s.socket.getsockname()[1]}" for s in servers)
          + f" (revision {store.revision})", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        store.stop()
        for s in servers:
            s.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-apiserver", description="a lab's Kubernetes API")
    p.add_argument("--lab", required=True)
    args = p.parse_args(argv)
    os.umask(0o077)
    return serve(args.lab)


if __name__ == "__main__":
    sys.exit(main())
