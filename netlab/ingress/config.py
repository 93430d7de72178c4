"""nginx.conf of netlab's ingress controller: the cluster's Ingresses as one nginx configuration.

Pure: the model in, text out (plus the PEM files the text names). The controller writes the
files and reloads nginx. Behaviour follows ingress-nginx: one server per host, Prefix paths
matched element-wise, the oldest Ingress winning duplicates, 308 to HTTPS for hosts with a
certificate.
"""
from __future__ import annotations

import base64
import binascii
import posixpath
import re
from dataclasses import dataclass

from netlab import tls
from netlab.errors import NetlabError
from netlab.model.names import host_port
from netlab.model.objects import Cluster, Ingress, IngressBackend

CLASS = "nginx"
CONTROLLER = "k8s.io/ingress-nginx"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
SSL_REDIRECT = "nginx.ingress.kubernetes.io/ssl-redirect"
FORCE_SSL_REDIRECT = "nginx.ingress.kubernetes.io/force-ssl-redirect"
TLS_SECRET_TYPE = "kubernetes.io/tls"

# Among equally long matches: Exact, then Prefix, then ImplementationSpecific (spec + ingress-nginx).
_TYPE_RANK = {"Exact": 0, "Prefix": 1, "ImplementationSpecific": 2}
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_UNSAFE = re.compile(r"[\s\"'{};$\\#]")     # would end or change an nginx directive


@dataclass(frozen=True)
class Paths:
    """Where the running nginx keeps its files (all writable by the controller's user)."""
    run_dir: str            # pid file and the *_temp_path directories
    ssl_dir: str            # the PEM files of pem_files()
    default_cert: str       # PEM (certificate then key) for hosts without their own
    # nginx reopens this path as the worker's user: a pipe or file the lab made as root is refused
    access_log: str = "/dev/stdout"

    @classmethod
    def under(cls, run_dir: str, access_log: str = "/dev/stdout") -> "Paths":
        ssl_dir = posixpath.join(run_dir, "ssl")
        return cls(run_dir, ssl_dir, posixpath.join(ssl_dir, "default-fake-certificate.pem"), access_log)


@dataclass(frozen=True)
class Backend:
    namespace: str
    ingress: str
    service: str
    port: str               # as the Ingress wrote it: a number or the service port's name
    address: str | None     # clusterIP:port; None when it does not resolve (nginx answers 503)


@dataclass(frozen=True)
class Route:
    """One Ingress path on one server (or a server's fallback for unmatched paths)."""
    path: str
    path_type: str          # Exact | Prefix | ImplementationSpecific
    backend: Backend | None  # None: nothing to send to, nginx answers 404
    redirect: bool = False   # plain HTTP gets a 308 to https
    rank: tuple = ()         # lower wins between equal matches: type, then the oldest Ingress


@dataclass(frozen=True)
class Server:
    host: str               # "" for the default server
    cert: str | None        # PEM file name in ssl_dir; None: the default certificate
    routes: tuple[Route, ...]   # the last is the fallback, a Prefix "/" that always loses


# --- which Ingresses are ours -------------------------------------------------------------------

def ours(c: Cluster, ing: Ingress) -> bool:
    """Does netlab's controller (class nginx, controller k8s.io/ingress-nginx) serve this Ingress?"""
    if ing.annotations.get(CLASS_ANNOTATION) == CLASS:
        return True
    classes = {k.name: k for k in c.ingress_classes}
    if not ing.class_name:
        return any(k.default and k.controller == CONTROLLER for k in c.ingress_classes)
    if ing.class_name in classes:
        return classes[ing.class_name].controller == CONTROLLER
    return ing.class_name == CLASS     # no IngressClass object: the name alone, as the annotation


def _age(ing: Ingress) -> tuple:
    return (ing.created, ing.namespace, ing.name)


# --- the model: servers and their routes --------------------------------------------------------

def servers(c: Cluster) -> list[Server]:
    """Our Ingresses as nginx servers, sorted by host, the default server ("") first."""
    ings = sorted((i for i in c.ingresses if ours(c, i)), key=_age)
    certs, _ = _certs(c, ings)
    routes: dict[str, list[Route]] = {"": []}
    fallback: dict[str, Route] = {}
    for ing in ings:
        for ri, rule in enumerate(ing.rules):
            _check_host(rule.host)
            host_routes = routes.setdefault(rule.host, [])
            for pi, p in enumerate(rule.paths):
                _check_path(p.path)
                if p.path_type not in _TYPE_RANK:
                    raise ValueError(f"ingress {ing.namespace}/{ing.name}: unknown pathType {p.path_type!r}")
                host_routes.append(Route(p.path, p.path_type, _backend(c, ing, p.backend),
                                         _redirect(ing, rule.host in certs),
                                         (0, _TYPE_RANK[p.path_type], *_age(ing), ri, pi)))
            # ingress-nginx: an Ingress's defaultBackend also takes the unmatched paths of its hosts
            if rule.host and ing.default_backend and rule.host not in fallback:
                fallback[rule.host] = _default_route(c, ing, _redirect(ing, rule.host in certs))
    # the default server: the oldest Ingress with a defaultBackend and no rules (ingress-nginx's
    # catch-all; one with rules only serves its own hosts), else 404
    first = next((i for i in ings if i.default_backend and not i.rules), None)
    if first:
        fallback[""] = _default_route(c, first, False)     # ingress-nginx: no redirect here
    not_found = Route("/", "Prefix", None, False, (1,))
    return [Server(host, certs.get(host), tuple(rs) + (fallback.get(host, not_found),))
            for host, rs in sorted(routes.items())]


def _default_route(c: Cluster, ing: Ingress, redirect: bool) -> Route:
    assert ing.default_backend is not None      # called only for an Ingress that has one
    return Route("/", "Prefix", _backend(c, ing, ing.default_backend), redirect, (1, 0, *_age(ing)))


def _backend(c: Cluster, ing: Ingress, b: IngressBackend) -> Backend:
    """The Service's ClusterIP and port; unresolvable (missing, headless, ExternalName) -> None."""
    address = None
    svc = next((s for s in c.services if s.namespace == ing.namespace and s.name == b.service), None)
    if svc and svc.type != "ExternalName" and svc.cluster_ip not in (None, "", "None"):
        port = next((p for p in svc.ports
                     if (p.name == b.port if isinstance(b.port, str) else p.port == b.port)), None)
        if port:
            address = host_port(svc.cluster_ip, port.port)
    return Backend(ing.namespace, ing.name, b.service, str(b.port), address)


def _flag(value: str | None) -> bool | None:
    """An annotation's boolean as Go's strconv.ParseBool reads it; None if absent or not a bool."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def _redirect(ing: Ingress, has_cert: bool) -> bool:
    if _flag(ing.annotations.get(FORCE_SSL_REDIRECT)):
        return True
    return has_cert and _flag(ing.annotations.get(SSL_REDIRECT)) is not False


def _check_host(host: str) -> None:
    if host and not _HOST.match(host):
        raise ValueError(f"ingress host {host!r} is not a lower-case DNS name")


def _check_path(path: str) -> None:
    if not path.startswith("/") or _UNSAFE.search(path):
        raise ValueError(f"ingress path {path!r} cannot go into nginx.conf")


# --- TLS -----------------------------------------------------------------------------------------

def _pem(c: Cluster, namespace: str, name: str) -> bytes | None:
    """Certificate then key of a usable kubernetes.io/tls Secret, else None (host keeps the default)."""
    s = next((s for s in c.secrets if s.namespace == namespace and s.name == name), None)
    if not s or s.type != TLS_SECRET_TYPE or "tls.crt" not in s.data or "tls.key" not in s.data:
        return None
    try:
        crt = base64.b64decode(s.data["tls.crt"], validate=True)
        key = base64.b64decode(s.data["tls.key"], validate=True)
    except (binascii.Error, ValueError):
        return None
    # A file nginx cannot load would stop the reload for every host, so a Secret whose
    # certificate and key do not parse or do not belong together is skipped (ingress-nginx too).
    try:
        tls.check_pair(crt, key, f"secret {namespace}/{name}")
    except NetlabError:
        return None
    return crt + (b"" if crt.endswith(b"\n") else b"\n") + key


def _certs(c: Cluster, ings: list[Ingress]) -> tuple[dict[str, str], dict[str, bytes]]:
    """host -> PEM file name, and file name -> content; the oldest Ingress's Secret wins a host."""
    hosts: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for ing in ings:
        for entry in ing.tls:
            pem = _pem(c, ing.namespace, entry.secret)
            if pem is None:
                continue
            fname = f"{ing.namespace}-{entry.secret}.pem"      # ingress-nginx's naming
            files[fname] = pem
            for host in entry.hosts:
                hosts.setdefault(host, fname)
    return hosts, files


def pem_files(c: Cluster) -> dict[str, bytes]:
    """The PEM files (name in ssl_dir -> certificate then key) that render()'s text refers to."""
    ings = sorted((i for i in c.ingresses if ours(c, i)), key=_age)
    _, files = _certs(c, ings)
    used = {s.cert for s in servers(c) if s.cert}
    return {name: files[name] for name in sorted(used)}


# --- which backend answers a request -------------------------------------------------------------

def _score(r: Route, path: str) -> int | None:
    """How much of the path the route matched (None: no match); the longest match wins.

    Prefix compares whole path elements (trailing slash ignored) and counts the separator it
    consumed, so "/foo" scores 4 on "/foo" and 5 on "/foo/bar", exactly what nginx's
    "= /foo" and "/foo/" locations give."""
    if r.path_type == "Exact":
        return len(path) if path == r.path else None
    if r.path_type == "Prefix":
        p = r.path.rstrip("/")
        if path == p:
            return len(p)
        return len(p) + 1 if path.startswith(p + "/") else None
    return len(r.path) if path.startswith(r.path) else None


def server_for(srvs: list[Server], host: str) -> Server:
    """nginx's choice: the exact name, else the one-label wildcard, else the default server."""
    name = re.sub(r":\d+$", "", host.lower()).rstrip(".")
    by_host = {s.host: s for s in srvs}
    if name and name in by_host:
        return by_host[name]
    label, _, rest = name.partition(".")
    if label and rest and f"*.{rest}" in by_host:
        return by_host[f"*.{rest}"]
    return by_host[""]


def match(srvs: list[Server], host: str, path: str) -> Route:
    """The route that answers a request with this Host header and URL path (Ingress spec rules)."""
    server = server_for(srvs, host)
    hits = [(score, r.rank, r) for r in server.routes if (score := _score(r, path)) is not None]
    return min(hits, key=lambda h: (-h[0], h[1]))[2]


# --- nginx text ----------------------------------------------------------------------------------

def _nginx_locations(r: Route) -> list[tuple[str, str]]:
    """(modifier, path) of the nginx locations a route needs."""
    if r.path_type == "Exact":
        return [("=", r.path)]
    if r.path_type == "Prefix":
        p = r.path.rstrip("/")
        # "= /foo" also stops nginx's 301 from /foo to /foo/
        return [("=", p), ("", p + "/")] if p else [("", "/")]
    return [("", r.path)]


def locations(server: Server) -> list[tuple[str, str, Route]]:
    """The server's nginx locations (modifier, path, route), longest first; duplicates resolved."""
    chosen: dict[tuple[str, str], Route] = {}
    for r in server.routes:
        for key in _nginx_locations(r):
            if key not in chosen or r.rank < chosen[key].rank:
                chosen[key] = r
    def order(key):     # longest path first, "= /foo" next to "/foo/"
        base = key[1].rstrip("/") or "/"
        return (-len(base), base, key[0] != "=", key[1])
    keys = sorted(chosen, key=order)
    return [(mod, path, chosen[(mod, path)]) for mod, path in keys]


def _q(value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError(f"{value!r} cannot go into nginx.conf")
    return f'"{value}"'


def _location(mod: str, path: str, r: Route) -> list[str]:
    head = f"location {mod} {path} {{" if mod else f"location {path} {{"
    b = r.backend
    if b is None:
        return [head, "    return 404;", "}"]
    body = [f"set $namespace {_q(b.namespace)};",
            f"set $ingress_name {_q(b.ingress)};",
            f"set $service_name {_q(b.service)};",
            f"set $service_port {_q(b.port)};",
            f"set $location_path {_q(r.path)};"]
    if r.redirect:
        body += ["if ($scheme = http) {", "    return 308 https://$host$request_uri;", "}"]
    if b.address is None:
        body.append("return 503;")      # no such service or port: as ingress-nginx answers
    else:
        body += ["proxy_set_header Host $host;",
                 "proxy_set_header X-Real-IP $remote_addr;",
                 "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                 "proxy_set_header X-Forwarded-Proto $scheme;",
                 "proxy_set_header X-Forwarded-Host $host;",
                 "proxy_http_version 1.1;",
                 f"proxy_pass http://{b.address};"]
    return [head] + ["    " + line for line in body] + ["}"]


def _server_name(host: str) -> str:
    if host.startswith("*."):
        # nginx's own "*.foo.com" would also match a.b.foo.com; the Ingress spec allows one label
        return "~^[^.]+" + host[1:].replace(".", r"\.") + "$"
    return host


def _server(s: Server, paths: Paths) -> list[str]:
    name = s.host or "_"
    default = " default_server" if not s.host else ""
    cert = posixpath.join(paths.ssl_dir, s.cert) if s.cert else paths.default_cert
    lines = [f"## start server {name}", "server {",
             f"    server_name {_server_name(s.host) if s.host else '_'};",
             f"    listen 80{default};",
             f"    listen 443 ssl{default};",
             f"    ssl_certificate {cert};",
             f"    ssl_certificate_key {cert};",
             # declared for every request, so the access log never meets an unset variable
             '    set $namespace "";',
             '    set $ingress_name "";',
             '    set $service_name "";']
    for mod, path, r in locations(s):
        lines += [""] + ["    " + line for line in _location(mod, path, r)]
    return lines + ["}", f"## end server {name}"]


def render(c: Cluster, paths: Paths) -> str:
    """The whole nginx.conf, for `nginx -c FILE -p PREFIX` run by a non-root user."""
    for p in (paths.run_dir, paths.ssl_dir, paths.default_cert, paths.access_log):
        _check_path(p)
    run = paths.run_dir
    head = [
        "# nginx.conf of netlab's ingress controller (class nginx), rendered from the Ingresses.",
        "# Find an Ingress's host between '## start server HOST' and '## end server HOST'.",
        "daemon off;                     # the lab supervises the master process",
        "worker_processes 1;",
        "worker_shutdown_timeout 240s;    # a reload lets in-flight requests finish",
        f"pid {run}/nginx.pid;",
        "error_log stderr notice;",
        "",
        "events {",
        "    worker_connections 512;",
        "}",
        "",
        "http {",
        "    default_type text/plain;",
        "    log_format ingress '$remote_addr [$time_local] host=$host \"$request\" $status '",
        "                       'upstream=$upstream_addr ns=$namespace ingress=$ingress_name '",
        "                       'service=$service_name';",
        f"    access_log {paths.access_log} ingress;",
        f"    client_body_temp_path {run}/client_body;",
        f"    proxy_temp_path {run}/proxy;",
        f"    fastcgi_temp_path {run}/fastcgi;",
        f"    uwsgi_temp_path {run}/uwsgi;",
        f"    scgi_temp_path {run}/scgi;",
        "    server_names_hash_bucket_size 128;",
        "    proxy_connect_timeout 5s;",
        "    proxy_send_timeout 60s;",
        "    proxy_read_timeout 60s;",
    ]
    body = []
    for s in servers(c):
        body += [""] + ["    " + line if line else "" for line in _server(s, paths)]
    return "\n".join(head + body + ["}", ""])
