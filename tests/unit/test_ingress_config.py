"""The ingress controller's nginx.conf: class selection, servers, the Ingress spec's path table
(through match() and through the rendered locations), TLS, golden files and `nginx -t`.

Golden files: NETLAB_UPDATE_GOLDEN=1 rewrites tests/unit/golden/ingress/*.conf (read the diff
before committing), as for the kube-proxy goldens.
"""
import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import golden_files

from netlab.tls import self_signed

from netlab.ingress import Paths, match, ours, pem_files, render, servers
from netlab.model.objects import (
    Cluster, Ingress, IngressBackend, IngressClass, IngressPath, IngressRule, IngressTLS, Secret,
    Service, ServicePort,
)
from netlab.model.seed import seed_cluster

GOLDEN = Path(__file__).parent / "golden" / "ingress"
PATHS = Paths.under("/run/netlab/ingress")
# a real pair: a certificate and key that do not belong together are skipped, as nginx would refuse them
_PAIR = self_signed(["shop.test", "*.apps.test"])
FAKE_CRT, FAKE_KEY = _PAIR["tls.crt"], _PAIR["tls.key"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def svc(name, ip, *ports, ns="default", **kw):
    """ports: numbers, or (number, name)."""
    sp = [ServicePort(p, "", "TCP", p) if isinstance(p, int) else ServicePort(p[0], p[1], "TCP", p[0])
          for p in ports]
    return Service(name, ns, cluster_ip=ip, ports=sp, **kw)


def ing(name, host, *paths, ns="default", created=0.0, cls="nginx", **kw):
    """paths: (path, pathType, service, port)."""
    rules = [IngressRule(host, [IngressPath(p, t, IngressBackend(s, port)) for p, t, s, port in paths])]
    return Ingress(name, ns, class_name=cls, rules=rules, created=created, **kw)


def tls_secret(name, ns="default", crt=FAKE_CRT, key=FAKE_KEY, type="kubernetes.io/tls"):
    return Secret(name, ns, type, {"tls.crt": b64(crt), "tls.key": b64(key)})


# --- reading the rendered text back, and nginx's choice of server and location --------------------

def parse(conf: str) -> list[dict]:
    """Servers of a rendered nginx.conf: names, default flag, locations (modifier, path, outcome)."""
    out = []
    for block in re.findall(r"## start server (\S+)\n(.*?)## end server \1", conf, re.S):
        text = block[1]
        names = re.search(r"server_name (\S+);", text).group(1)
        locs = []
        for mod, path, body in re.findall(r"location (=? ?)(\S+) \{\n(.*?)\n {8}\}", text, re.S):
            locs.append((mod.strip(), path, outcome_of(body)))
        keys = [(m, p) for m, p, _ in locs]
        assert len(keys) == len(set(keys)), "duplicate location"
        out.append({"name": names, "default": "default_server" in text, "locations": locs})
    return out


def outcome_of(body: str) -> tuple:
    ingress = re.search(r'set \$ingress_name "(.*)";', body)
    lpath = re.search(r'set \$location_path "(.*)";', body)
    action = re.search(r"(proxy_pass http://\S+|return 50\d|return 404);", body).group(1)
    return (ingress.group(1) if ingress else "", lpath.group(1) if lpath else "", action,
            "return 308 https://$host$request_uri;" in body)


def outcome(route) -> tuple:
    """What the rendered location of this route should do, in outcome_of()'s terms."""
    b = route.backend
    if b is None:
        return ("", "", "return 404", False)
    action = f"proxy_pass http://{b.address}" if b.address else "return 503"
    return (b.ingress, route.path, action, route.redirect)


def nginx_choice(parsed: list[dict], host: str, path: str) -> tuple:
    """nginx: exact server_name, else a regex name, else default_server; then an "=" location
    equal to the path, else the longest prefix location."""
    host = re.sub(r":\d+$", "", host.lower())           # nginx normalizes the Host header
    server = (next((s for s in parsed if s["name"] == host), None)
              or next((s for s in parsed if s["name"].startswith("~") and re.search(s["name"][1:], host)), None)
              or next(s for s in parsed if s["default"]))
    for mod, lpath, out in server["locations"]:
        if mod == "=" and lpath == path:
            return out
    prefixes = [(len(lpath), out) for mod, lpath, out in server["locations"] if not mod and path.startswith(lpath)]
    return max(prefixes, key=lambda p: p[0])[1] if prefixes else ("", "", "return 404", False)


def agree(c: Cluster, host: str, path: str) -> tuple:
    """match() and nginx's choice over the rendered text give the same answer; returns it."""
    want = outcome(match(servers(c), host, path))
    assert nginx_choice(parse(render(c, PATHS)), host, path) == want, (host, path)
    return want


# --- class selection -------------------------------------------------------------------------------

def test_class_by_annotation():
    c = Cluster()
    i = Ingress("a", "default", class_name="nginx", annotations={"kubernetes.io/ingress.class": "nginx"})
    assert ours(c, i)
    # the annotation wins even where an IngressClass "nginx" belongs to someone else
    c.ingress_classes = [IngressClass("nginx", "example.com/other")]
    assert ours(c, i)
    other = Ingress("b", "default", class_name="traefik", annotations={"kubernetes.io/ingress.class": "traefik"})
    assert not ours(c, other)


def test_class_by_ingress_class_name():
    c = Cluster(ingress_classes=[IngressClass("public", "k8s.io/ingress-nginx"),
                                 IngressClass("nginx", "example.com/other")])
    assert ours(c, Ingress("a", "default", class_name="public"))
    assert not ours(c, Ingress("b", "default", class_name="nginx"))     # that class is not ours
    assert not ours(c, Ingress("c", "default", class_name="missing"))
    assert ours(Cluster(), Ingress("d", "default", class_name="nginx"))  # no object: the name suffices


def test_class_default():
    i = Ingress("a", "default")
    assert not ours(Cluster(), i)
    assert not ours(Cluster(ingress_classes=[IngressClass("nginx", "k8s.io/ingress-nginx")]), i)
    assert not ours(Cluster(ingress_classes=[IngressClass("x", "example.com/other", default=True)]), i)
    assert ours(Cluster(ingress_classes=[IngressClass("nginx", "k8s.io/ingress-nginx", default=True)]), i)


def test_foreign_ingress_is_not_rendered():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("mine", "a.test", ("/", "Prefix", "web", 80)),
                           ing("theirs", "b.test", ("/", "Prefix", "web", 80), cls="traefik")])
    assert [s.host for s in servers(c)] == ["", "a.test"]
    assert "b.test" not in render(c, PATHS)


# --- servers ---------------------------------------------------------------------------------------

def test_hosts_merge_across_ingresses():
    c = Cluster(services=[svc("web", "10.254.0.10", 80), svc("api", "10.254.0.11", 8080)],
                ingresses=[ing("web", "shop.test", ("/", "Prefix", "web", 80)),
                           ing("api", "shop.test", ("/api", "Prefix", "api", 8080), created=5)])
    conf = render(c, PATHS)
    assert conf.count("## start server shop.test") == 1
    assert agree(c, "shop.test", "/api/v1")[:3] == ("api", "/api", "proxy_pass http://10.254.0.11:8080")
    assert agree(c, "shop.test", "/index.html")[:3] == ("web", "/", "proxy_pass http://10.254.0.10:80")
    assert agree(c, "SHOP.test:30799", "/")[0] == "web"         # Host is case-insensitive, port ignored


def test_every_server_listens_on_both_ports():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("web", "shop.test", ("/", "Prefix", "web", 80))])
    conf = render(c, PATHS)
    shop = conf.split("## start server shop.test")[1]
    assert "listen 80;" in shop and "listen 443 ssl;" in shop
    assert f"ssl_certificate {PATHS.default_cert};" in shop
    default = conf.split("## start server _")[1].split("## end server _")[0]
    assert "listen 80 default_server;" in default and "listen 443 ssl default_server;" in default
    assert "server_name _;" in default


def test_wildcard_host_matches_one_label():
    c = Cluster(services=[svc("web", "10.254.0.10", 80), svc("bar", "10.254.0.12", 80)],
                ingresses=[ing("wild", "*.foo.com", ("/", "Prefix", "web", 80)),
                           ing("bar", "bar.foo.com", ("/", "Prefix", "bar", 80))])
    assert r"server_name ~^[^.]+\.foo\.com$;" in render(c, PATHS)
    assert agree(c, "baz.foo.com", "/")[0] == "wild"
    assert agree(c, "bar.foo.com", "/")[0] == "bar"             # an exact name beats the wildcard
    assert agree(c, "baz.bar.foo.com", "/")[2] == "return 404"  # two labels: no match
    assert agree(c, "foo.com", "/")[2] == "return 404"          # no label: no match


def test_hostless_rules_belong_to_the_default_server():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("any", "", ("/web", "Prefix", "web", 80))])
    assert [s.host for s in servers(c)] == [""]
    assert agree(c, "whatever.test", "/web/x")[0] == "any"
    assert agree(c, "whatever.test", "/other")[2] == "return 404"


# --- the Ingress spec's path matching table ----------------------------------------------------------
# (kind, paths, request, the path that answers or None for the default backend), one row each.
SPEC_TABLE = [
    ("Prefix", ["/"], "/", "/"),
    ("Prefix", ["/"], "/any/thing", "/"),
    ("Exact", ["/foo"], "/foo", "/foo"),
    ("Exact", ["/foo"], "/bar", None),
    ("Exact", ["/foo"], "/foo/", None),
    ("Exact", ["/foo/"], "/foo", None),
    ("Prefix", ["/foo"], "/foo", "/foo"),
    ("Prefix", ["/foo"], "/foo/", "/foo"),
    ("Prefix", ["/foo/"], "/foo", "/foo/"),
    ("Prefix", ["/foo/"], "/foo/", "/foo/"),
    ("Prefix", ["/aaa/bb"], "/aaa/bbb", None),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb/"], "/aaa/bbb", "/aaa/bbb/"),       # ignores the trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/", "/aaa/bbb"),        # matches the trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/ccc", "/aaa/bbb"),     # matches the subpath
    ("Prefix", ["/aaa/bbb"], "/aaa/bbbxyz", None),            # not a string prefix
    ("Prefix", ["/", "/aaa"], "/aaa/ccc", "/aaa"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/ccc", "/"),
    ("Prefix", ["/aaa"], "/ccc", None),                       # the default backend
    ("Mixed", [("/foo", "Prefix"), ("/foo", "Exact")], "/foo", ("/foo", "Exact")),
]


def table_cluster(paths: list) -> Cluster:
    c = Cluster()
    rule = []
    for i, p in enumerate(paths):
        path, kind = p if isinstance(p, tuple) else (p, None)
        c.services.append(svc(f"s{i}", f"10.254.1.{i + 1}", 80))
        rule.append((path, kind, f"s{i}", 80))
    return c, rule


@pytest.mark.parametrize("kind,paths,request_path,want", SPEC_TABLE)
def test_spec_path_table(kind, paths, request_path, want):
    c, rule = table_cluster(paths)
    rule = [(p, t or kind, s, port) for p, t, s, port in rule]
    c.ingresses = [ing("t", "t.test", *rule)]
    route = match(servers(c), "t.test", request_path)
    if want is None:
        assert route.backend is None
    else:
        want_path, want_type = want if isinstance(want, tuple) else (want, kind)
        assert (route.path, route.path_type) == (want_path, want_type)
    agree(c, "t.test", request_path)              # the rendered locations do the same


def test_exact_and_prefix_render_as_nginx_locations():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("t", "t.test", ("/e", "Exact", "web", 80), ("/p/", "Prefix", "web", 80),
                               ("/", "Prefix", "web", 80), ("/i", "ImplementationSpecific", "web", 80))])
    locs = [(m, p) for m, p, _ in parse(render(c, PATHS))[1]["locations"]]
    assert locs == [("=", "/e"), ("", "/i"), ("=", "/p"), ("", "/p/"), ("", "/")]


def test_exact_beats_prefix_across_ingresses():
    c = Cluster(services=[svc("a", "10.254.0.10", 80), svc("b", "10.254.0.11", 80)],
                ingresses=[ing("prefix", "t.test", ("/foo", "Prefix", "a", 80)),
                           ing("exact", "t.test", ("/foo", "Exact", "b", 80), created=9)])
    assert agree(c, "t.test", "/foo")[0] == "exact"
    assert agree(c, "t.test", "/foo/")[0] == "prefix"
    assert agree(c, "t.test", "/foo/x")[0] == "prefix"


def test_duplicates_go_to_the_oldest_ingress():
    c = Cluster(services=[svc("a", "10.254.0.10", 80), svc("b", "10.254.0.11", 80)],
                ingresses=[ing("young", "t.test", ("/x", "Prefix", "b", 80), created=20),
                           ing("old", "t.test", ("/x/", "Prefix", "a", 80), created=10),
                           # same age: namespace, then name decide
                           ing("b", "t.test", ("/y", "Exact", "b", 80), created=5),
                           ing("a", "t.test", ("/y", "Exact", "a", 80), created=5)])
    for p in ("/x", "/x/", "/x/1"):
        assert agree(c, "t.test", p)[0] == "old"
    assert agree(c, "t.test", "/y")[0] == "a"


def test_prefix_beats_implementation_specific_on_the_same_location():
    c = Cluster(services=[svc("a", "10.254.0.10", 80), svc("b", "10.254.0.11", 80)],
                ingresses=[ing("impl", "t.test", ("/foo/", "ImplementationSpecific", "a", 80)),
                           ing("prefix", "t.test", ("/foo", "Prefix", "b", 80), created=3)])
    assert agree(c, "t.test", "/foo/x")[0] == "prefix"
    assert agree(c, "t.test", "/foo")[0] == "prefix"


def test_implementation_specific_is_a_string_prefix():
    c = Cluster(services=[svc("a", "10.254.0.10", 80)],
                ingresses=[ing("impl", "t.test", ("/foo", "ImplementationSpecific", "a", 80))])
    for p in ("/foo", "/foobar", "/foo/x"):
        assert agree(c, "t.test", p)[0] == "impl"
    assert agree(c, "t.test", "/fo")[2] == "return 404"


def mixed_cluster() -> Cluster:
    """Many paths, types, hosts and Ingresses: the paths.conf golden and the cross-check."""
    c = Cluster(services=[svc("web", "10.254.0.10", 80, (8080, "http")), svc("api", "10.254.0.11", 8080),
                          svc("docs", "10.254.0.12", (80, "http")), svc("fallback", "10.254.0.13", 80),
                          svc("headless", "None", 80), svc("db", None, 3306, type="ExternalName",
                                                            external_name="db.example.com")])
    c.ingresses = [
        ing("shop", "shop.test", ("/", "Prefix", "web", 80), ("/api", "Prefix", "api", 8080),
            ("/api/v1/health", "Exact", "api", 8080), ("/docs", "ImplementationSpecific", "docs", "http"),
            ("/static/", "Prefix", "web", "http"), created=1),
        ing("shop-exact", "shop.test", ("/api", "Exact", "web", 80), ("/static", "Prefix", "docs", 80),
            created=2),
        ing("wild", "*.apps.test", ("/aaa", "Prefix", "web", 80), ("/aaa/bbb", "Prefix", "api", 8080),
            default_backend=IngressBackend("fallback", 80), created=3),
        ing("broken", "broken.test", ("/missing", "Prefix", "nope", 80), ("/port", "Exact", "web", 81),
            ("/name", "Exact", "web", "nope"), ("/headless", "Prefix", "headless", 80),
            ("/external", "Prefix", "db", 3306), created=4),
        ing("any-host", "", ("/healthz", "Exact", "web", 80), created=5),
        Ingress("catch-all", "default", class_name="nginx", default_backend=IngressBackend("fallback", 80),
                created=6),
        Ingress("later-catch-all", "default", class_name="nginx", default_backend=IngressBackend("web", 80),
                created=7),
    ]
    return c


def test_match_agrees_with_rendered_locations_everywhere():
    c = mixed_cluster()
    srvs = servers(c)
    paths = {"/", "/x", "//", "/apix", "/static", "/statics", "/doc", "/docsx"}
    for s in srvs:
        for r in s.routes:
            for p in (r.path, r.path.rstrip("/") or "/", r.path + "/", r.path + "x", r.path + "/y"):
                paths.add(p)
    hosts = ["shop.test", "a.apps.test", "a.b.apps.test", "apps.test", "broken.test", "nowhere.test"]
    for host in hosts:
        for p in sorted(paths):
            agree(c, host, p)


def test_default_server_answers_404_without_a_default_backend():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("web", "shop.test", ("/", "Prefix", "web", 80))])
    assert agree(c, "unknown.test", "/") == ("", "", "return 404", False)
    default = parse(render(c, PATHS))[0]
    assert default["default"] and default["locations"] == [("", "/", ("", "", "return 404", False))]


def test_default_backend_oldest_wins():
    c = mixed_cluster()
    # the catch-all: the oldest Ingress with a defaultBackend and no rules ("wild" is older, has rules)
    assert agree(c, "unknown.test", "/") == ("catch-all", "/", "proxy_pass http://10.254.0.13:80", False)
    # the Ingress's defaultBackend also takes its own hosts' unmatched paths
    assert agree(c, "x.apps.test", "/zzz")[:3] == ("wild", "/", "proxy_pass http://10.254.0.13:80")
    # a host whose Ingress has none answers 404 for unmatched paths
    assert agree(c, "broken.test", "/zzz")[2] == "return 404"


def test_unresolvable_backends_answer_503():
    c = mixed_cluster()
    for p in ("/missing", "/port", "/name", "/headless", "/external"):
        got = agree(c, "broken.test", p)
        assert got[:3] == ("broken", p, "return 503"), p
    conf = render(c, PATHS)
    assert 'set $service_name "nope";' in conf


def test_named_service_port():
    c = mixed_cluster()
    assert agree(c, "shop.test", "/docs/intro")[2] == "proxy_pass http://10.254.0.12:80"
    assert agree(c, "shop.test", "/static/app.js")[2] == "proxy_pass http://10.254.0.10:8080"
    assert 'set $service_port "http";' in render(c, PATHS)


def test_location_sets_the_walkthrough_variables():
    c = Cluster(services=[svc("web", "10.254.0.10", 80)],
                ingresses=[ing("web", "shop.test", ("/shop", "Prefix", "web", 80), ns="default")])
    conf = render(c, PATHS)
    block = conf.split("location /shop/ {")[1].split("}")[0]
    assert [line.strip() for line in block.strip().splitlines()] == [
        'set $namespace "default";', 'set $ingress_name "web";', 'set $service_name "web";',
        'set $service_port "80";', 'set $location_path "/shop";',
        "proxy_set_header Host $host;", "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;", "proxy_set_header X-Forwarded-Host $host;",
        "proxy_http_version 1.1;", "proxy_pass http://10.254.0.10:80;"]


@pytest.mark.parametrize("path", ["/a b", '/a"', "/a;", "/a{", "/a}", "/$x", "/a\\b", "/a#b", "a", "/a\n"])
def test_unsafe_paths_are_refused(path):
    c = Cluster(ingresses=[ing("x", "t.test", (path, "Prefix", "web", 80))])
    with pytest.raises(ValueError, match=rf"^ingress path {re.escape(repr(path))} cannot go into nginx\.conf$"):
        render(c, PATHS)


def test_unsafe_hosts_are_refused():
    with pytest.raises(ValueError, match=r"^ingress host 'a\.test;' is not a lower-case DNS name$"):
        servers(Cluster(ingresses=[ing("x", "a.test;", ("/", "Prefix", "web", 80))]))


# --- TLS -------------------------------------------------------------------------------------------

def tls_cluster(crt=FAKE_CRT, key=FAKE_KEY) -> Cluster:
    """The tls.conf golden: certificates, redirects and their annotations."""
    c = Cluster(services=[svc("web", "10.254.0.10", 80)])
    c.secrets = [tls_secret("shop-tls", crt=crt, key=key), tls_secret("wild-tls", crt=crt, key=key),
                 tls_secret("opaque", crt=crt, key=key, type="Opaque"),
                 Secret("nokey", "default", "kubernetes.io/tls", {"tls.crt": b64(crt)}),
                 tls_secret("other-ns", ns="elsewhere", crt=crt, key=key)]
    c.ingresses = [
        ing("shop", "shop.test", ("/", "Prefix", "web", 80), tls=[IngressTLS(["shop.test"], "shop-tls")],
            created=1),
        ing("shop-plain", "shop.test", ("/plain", "Prefix", "web", 80), created=2,
            annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
        ing("wild", "*.apps.test", ("/", "Prefix", "web", 80),
            tls=[IngressTLS(["*.apps.test"], "wild-tls")], created=3),
        ing("plain", "plain.test", ("/", "Prefix", "web", 80), created=4),
        ing("forced", "forced.test", ("/", "Prefix", "web", 80), created=5,
            annotations={"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"}),
        ing("bad-secrets", "bad.test", ("/", "Prefix", "web", 80), created=6,
            tls=[IngressTLS(["bad.test"], "opaque"), IngressTLS(["bad.test"], "nokey"),
                 IngressTLS(["bad.test"], "other-ns"), IngressTLS(["bad.test"], "missing")]),
    ]
    return c


def test_tls_certificates_and_redirects():
    c = tls_cluster()
    certs = {s.host: s.cert for s in servers(c)}
    assert certs == {"": None, "*.apps.test": "default-wild-tls.pem", "bad.test": None,
                     "forced.test": None, "plain.test": None, "shop.test": "default-shop-tls.pem"}
    conf = render(c, PATHS)
    assert f"ssl_certificate {PATHS.ssl_dir}/default-shop-tls.pem;" in conf
    assert f"ssl_certificate_key {PATHS.ssl_dir}/default-shop-tls.pem;" in conf
    assert agree(c, "shop.test", "/")[3] is True                 # certificate: 308 to https
    assert agree(c, "shop.test", "/plain/x")[3] is False         # ssl-redirect: "false"
    assert agree(c, "a.apps.test", "/")[3] is True
    assert agree(c, "plain.test", "/")[3] is False               # no certificate: plain HTTP
    assert agree(c, "forced.test", "/")[3] is True               # force-ssl-redirect
    assert agree(c, "bad.test", "/")[3] is False                 # no usable Secret: default cert
    assert "return 308 https://$host$request_uri;" in conf


def test_pem_files():
    c = tls_cluster()
    files = pem_files(c)
    assert sorted(files) == ["default-shop-tls.pem", "default-wild-tls.pem"]
    assert files["default-shop-tls.pem"] == FAKE_CRT + FAKE_KEY
    # a certificate without a final newline still leaves the key on its own line
    c.secrets[0] = tls_secret("shop-tls", crt=FAKE_CRT.rstrip(b"\n"))
    assert pem_files(c)["default-shop-tls.pem"] == FAKE_CRT + FAKE_KEY
    # only files the configuration refers to
    c.ingresses = [i for i in c.ingresses if i.name != "wild"]
    assert sorted(pem_files(c)) == ["default-shop-tls.pem"]


def test_a_certificate_nginx_would_refuse_is_skipped_for_the_default_one():
    other_key = self_signed(["x.test"])["tls.key"]
    c = tls_cluster(key=other_key)                       # the key of another certificate
    assert {s.host: s.cert for s in servers(c)}["shop.test"] is None
    assert pem_files(c) == {}


def test_oldest_ingress_certificate_wins_a_host():
    c = tls_cluster()
    c.secrets.append(tls_secret("young-tls"))
    c.ingresses.append(ing("young", "shop.test", ("/y", "Prefix", "web", 80), created=50,
                           tls=[IngressTLS(["shop.test"], "young-tls")]))
    assert {s.host: s.cert for s in servers(c)}["shop.test"] == "default-shop-tls.pem"


# --- the seed, golden files and the real nginx ----------------------------------------------------

def seed_with_ingresses() -> Cluster:
    c = seed_cluster()
    c.services.append(Service("business-user", "ns-jo", cluster_ip="10.254.62.113",
                              ports=[ServicePort(80, "http", "TCP", 8080)], selector={"app": "business-user"}))
    c.ingresses = [
        ing("business-manager", "business-manager.default", ("/", "Prefix", "business-manager", 80)),
        # the walk-through's v1beta1 Ingress: class by annotation, no pathType
        Ingress("business-user", "ns-jo", class_name="nginx",
                annotations={"kubernetes.io/ingress.class": "nginx"},
                rules=[IngressRule("business-user.ns-jo", [
                    IngressPath("/", "ImplementationSpecific", IngressBackend("business-user", 80))])]),
    ]
    return c


def test_seed_routes():
    c = seed_with_ingresses()
    assert agree(c, "business-manager.default:30799", "/api/v1/product/list") == (
        "business-manager", "/", "proxy_pass http://10.254.80.22:80", False)
    assert agree(c, "business-user.ns-jo", "/")[2] == "proxy_pass http://10.254.62.113:80"
    conf = render(c, PATHS)
    for line in ('set $namespace "ns-jo";', 'set $ingress_name "business-user";',
                 'set $service_name "business-user";', 'set $service_port "80";', 'set $location_path "/";'):
        assert line in conf


SCENARIOS = {"seed": seed_with_ingresses, "paths": mixed_cluster, "tls": tls_cluster}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name):
    path = GOLDEN / f"{name}.conf"
    conf = render(SCENARIOS[name](), PATHS)
    assert conf == render(SCENARIOS[name](), PATHS)              # deterministic
    golden_files.check(path, conf)


def test_required_directives():
    conf = render(Cluster(), PATHS)
    run = PATHS.run_dir
    for line in ("daemon off;", f"pid {run}/nginx.pid;", "error_log stderr notice;", "worker_processes 1;",
                 "worker_shutdown_timeout 240s;", "access_log /dev/stdout ingress;",
                 f"client_body_temp_path {run}/client_body;", f"proxy_temp_path {run}/proxy;",
                 f"fastcgi_temp_path {run}/fastcgi;", f"uwsgi_temp_path {run}/uwsgi;",
                 f"scgi_temp_path {run}/scgi;", "server_names_hash_bucket_size 128;"):
        assert line in conf, line
    assert not re.search(r"^\s*(user|include)\b", conf, re.M)


@pytest.fixture(scope="module")
def nginx_test(tmp_path_factory):
    """Runs `nginx -t` on a rendered config, in a user+network namespace of its own: nginx -t binds
    ports 80 and 443, which needs no root there and cannot meet the host's own listeners."""
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if not nginx or not openssl:
        pytest.skip("nginx or openssl is not installed")
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged user namespaces: nginx -t cannot bind ports 80/443 without root")
    d = tmp_path_factory.mktemp("pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=x", "-days", "1", "-keyout", d / "key.pem", "-out", d / "crt.pem"],
                   check=True, capture_output=True)
    crt, key = (d / "crt.pem").read_bytes(), (d / "key.pem").read_bytes()

    def run(c: Cluster, where: Path) -> subprocess.CompletedProcess:
        paths = Paths.under(str(where))
        os.makedirs(paths.ssl_dir)
        Path(paths.default_cert).write_bytes(crt + key)
        for fname, data in pem_files(c).items():
            (Path(paths.ssl_dir) / fname).write_bytes(data)
        (where / "nginx.conf").write_text(render(c, paths))
        # "user root": nginx believes it is root in the namespace and would chown its temp
        # directories to nobody, who is not mapped there (the lab's non-root nginx never chowns)
        return subprocess.run(["unshare", "-rn", nginx, "-t", "-c", where / "nginx.conf", "-p", f"{where}/",
                               "-e", "stderr", "-g", "user root root;"], capture_output=True, text=True,
                              timeout=20)      # a broken config (a mutant's) must fail, not hang
    run.crt, run.key = crt, key
    return run


@pytest.mark.parametrize("name", sorted(SCENARIOS) + ["empty"])
def test_nginx_accepts_the_config(nginx_test, tmp_path, name):
    if name == "empty":
        c = Cluster()
    elif name == "tls":
        c = tls_cluster(nginx_test.crt, nginx_test.key)
    else:
        c = SCENARIOS[name]()
    got = nginx_test(c, tmp_path)
    assert got.returncode == 0, got.stderr
    assert "test is successful" in got.stderr
