import base64
import json
import re
from pathlib import Path

import pytest
import yaml

import golden_files

from netlab import output
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import (
    ConfigMap, EndpointAddress, EndpointPort, Endpoints, Ingress, IngressBackend, IngressClass, IngressPath,
    IngressRule, IngressTLS, Pod, Secret, Service, ServicePort,
)
from netlab.model.secrets import decode, encode
from netlab.model.seed import seed_cluster


def test_table_pads_columns_three_spaces_apart():
    assert output.table(["NAME", "IP"], [["a", "10.0.0.1"], ["long-name", "x"]]).splitlines() == [
        "NAME        IP", "a           10.0.0.1", "long-name   x"]


def test_age():
    assert [output.age(0, t) for t in (5, 90, 3600, 10000, 300000)] == ["5s", "1m", "60m", "2h", "3d"]


def test_pods_wide_show_node_ips_like_the_walk_through():
    c = seed_cluster(now=0.0)
    text = output.pod_rows(c, c.pods[:1], True, False, lambda p: ("Running", "1/1", 0), 30.0)
    assert text.splitlines() == [
        "NAME                                READY   STATUS    RESTARTS   AGE   IP            NODE",
        "business-manager-666f454f7f-7l86b   1/1     Running   0          30s   172.30.76.7   192.168.0.21"]


def test_pod_list_objects_are_what_kubectl_prints():
    c = seed_cluster(now=0.0)
    items = [output.pod_object(c, p, "Running", True, 0) for p in c.pods]
    doc = json.loads(output.as_list(items, "json"))
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    kr = next(i for i in doc["items"] if i["metadata"]["name"] == "kube-dns-7cd94476cd-kr76t")
    assert kr["metadata"]["namespace"] == "kube-system"
    assert kr["status"]["podIP"] == "172.30.9.4" and kr["status"]["hostIP"] == "192.168.0.22"
    assert yaml.safe_load(output.as_list(items, "yaml")) == doc


# ---- ingresses, ingress classes, secrets, config maps --------------------------------------
#
# Golden files: tests/unit/golden/output/*.txt hold what kubectl prints for the fixtures
# below. NETLAB_UPDATE_GOLDEN=1 rewrites them (read the diff before committing). They hold
# no Secret value and no certificate: the seed makes a fresh password and certificate each
# time, so the goldens use the fixed Secrets of `fixed_secrets()`.

GOLDEN = Path(__file__).parent / "golden" / "output"
NOW = 1_700_000_000.0
ADDRESS = "192.168.0.22,192.168.0.21"      # the lab's nodes, as the ingress controller reports them


def ready(*ips, ready=True):
    return [EndpointAddress(ip, ready=ready) for ip in ips]


def shop() -> tuple[list[Ingress], list[Service], list[Endpoints]]:
    """Ingresses that use every part of describe: default backend, TLS, errors, named ports."""
    services = [
        Service("web", "shop", cluster_ip="10.254.1.1", ports=[ServicePort(80, "http", "TCP", 8080)],
                selector={"app": "web"}),
        Service("api", "shop", cluster_ip="10.254.1.2",
                ports=[ServicePort(80, "http", "TCP", 8080), ServicePort(9000, "grpc", "TCP", 50051)],
                selector={"app": "api"}),
        Service("fallback", "shop", cluster_ip="10.254.1.3", ports=[ServicePort(80, "", "TCP", 8080)],
                selector={"app": "fallback"}),
    ]
    endpoints = [
        Endpoints("web", "shop", ready("172.30.76.10", "172.30.9.10") + ready("172.30.9.11", ready=False),
                  [EndpointPort(8080, "http")]),
        Endpoints("api", "shop", ready("172.30.76.20"), [EndpointPort(8080, "http"), EndpointPort(50051, "grpc")]),
        Endpoints("fallback", "shop", ready(*(f"172.30.76.{i}" for i in range(30, 35))), [EndpointPort(8080)]),
        Endpoints("orphan", "shop", ready("172.30.76.40"), [EndpointPort(80)]),     # no Service of that name
    ]
    long_value = "x" * 150
    main = Ingress(
        "shop", "shop", None,
        {"nginx.ingress.kubernetes.io/ssl-redirect": "false", "example.com/long": long_value,
         "example.com/multi": "first line\nsecond line\n",
         "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Ingress"}'},
        [IngressRule("shop.example", [IngressPath("/", "Prefix", IngressBackend("web", 80)),
                                      IngressPath("/api", "Exact", IngressBackend("api", "grpc"))]),
         IngressRule("", [IngressPath("/missing", "Prefix", IngressBackend("ghost", 80)),
                          IngressPath("/orphan", "Prefix", IngressBackend("orphan", 80))]),
         IngressRule("no-http.example")],
        [IngressTLS(["shop.example", "www.shop.example"], "shop-tls"), IngressTLS(["sni.example"], "")],
        IngressBackend("fallback", 80), labels={"tier": "web", "app": "shop"}, created=NOW - 7200)
    catch_all = Ingress("catch-all", "shop", "nginx", default_backend=IngressBackend("fallback", 80),
                        created=NOW - 30)
    many = Ingress("many-hosts", "default", "nginx",
                   rules=[IngressRule(f"h{i}.example", [IngressPath("/", "Prefix", IngressBackend("web", 80))])
                          for i in range(1, 6)], created=NOW - 4 * 86400)
    hostless = Ingress("hostless", "default", rules=[
        IngressRule("", [IngressPath("/", "Prefix", IngressBackend("web", 80))])], created=NOW - 90)
    return [main, catch_all, many, hostless], services, endpoints


def fixed_secrets() -> list[Secret]:
    return [Secret("mysql", "default", data=encode({"password": "not-the-real-one"}), created=NOW - 600),
            Secret("shop-tls", "shop", "kubernetes.io/tls",
                   encode({"tls.crt": b"c" * 1164, "tls.key": b"k" * 1704}), {"app": "shop"}, NOW - 86400),
            Secret("empty", "default", created=NOW - 5)]


def fixed_config_maps() -> list[ConfigMap]:
    return [ConfigMap("game-config", "default",
                      {"ui.properties": "color.good=purple\ncolor.bad=yellow\n", "lives": "3",
                       "game.properties": "enemies=aliens"}, {"app": "game"}, NOW - 3600),
            ConfigMap("empty", "kube-system", created=NOW - 10)]


def golden_texts() -> dict[str, str]:
    c = seed_cluster(now=NOW - 300)
    eps = derive_endpoints(c)
    ingresses, services, endpoints = shop()
    secrets, maps = fixed_secrets(), fixed_config_maps()
    return {
        "ingress-get": output.ingress_rows(c.ingresses, False, NOW, ADDRESS),
        "ingress-get-all-namespaces": output.ingress_rows(c.ingresses + ingresses, True, NOW, ADDRESS),
        "ingress-get-wide": output.ingress_rows(ingresses, False, NOW, ADDRESS, wide=True),
        "ingress-describe-seed": output.describe_ingress(c.ingresses[0], c.services, eps, ADDRESS),
        "ingress-describe-shop": output.describe_ingress(ingresses[0], services, endpoints, ADDRESS),
        "ingress-describe-catch-all": output.describe_ingress(ingresses[1], services, endpoints, ""),
        "ingressclass-get": output.ingressclass_rows(c.ingress_classes, NOW, NOW - 300),
        "secret-get": output.secret_rows([s for s in secrets if s.namespace == "default"], False, NOW),
        "secret-get-all-namespaces": output.secret_rows(secrets, True, NOW),
        "secret-describe-opaque": output.describe_secret(secrets[0]),
        "secret-describe-tls": output.describe_secret(secrets[1]),
        "secret-describe-empty": output.describe_secret(secrets[2]),
        "configmap-get": output.configmap_rows(maps[:1], False, NOW),
        "configmap-get-all-namespaces": output.configmap_rows(maps, True, NOW),
        "configmap-describe": output.describe_configmap(maps[0]),
        "configmap-describe-empty": output.describe_configmap(maps[1]),
        "pod-describe-seed": output.describe_pod(c, c.pods[0], "Running", True, 2),
        "pod-describe-no-command": output.describe_pod(c, no_command(c), "Pending", False, 0, "NoCommand"),
        "pod-get-no-command": output.pod_rows(c, [c.pods[0], no_command(c)], True, False, _status, NOW),
    }


def no_command(c):
    """A pod from a manifest that names an image and no command (netlab pulls no image)."""
    return Pod("web-5d9c8f7b6-x2x9q", "default", "node1", "172.30.76.30", {"app": "web"}, owner="web",
               created=NOW - 60, image="nginx:1.25", container_ports={"http": 80}, ready=False)


def _status(p):
    return ("NoCommand", "0/1", 0) if not p.command else ("Running", "1/1", 0)


def test_pod_objects_of_a_pod_with_nothing_to_run_say_why():
    c = seed_cluster(now=0.0)
    obj = output.pod_object(c, no_command(c), "Pending", False, 0, "NoCommand")
    assert obj["status"]["phase"] == "Pending"
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    [cs] = obj["status"]["containerStatuses"]
    assert cs["ready"] is False and cs["state"]["waiting"]["reason"] == "NoCommand"
    assert "images are not pulled" in cs["state"]["waiting"]["message"]
    running = output.pod_object(c, c.pods[0], "Running", True, 0)
    assert "state" not in running["status"]["containerStatuses"][0]


@pytest.mark.parametrize("name", sorted(golden_texts()))
def test_golden(name):
    text = golden_texts()[name] + "\n"
    path = GOLDEN / f"{name}.txt"
    golden_files.check(path, text)


def test_goldens_hold_no_secret_value():
    values = [v for s in fixed_secrets() for v in list(s.data.values()) + [b.decode() for b in decode(s).values()]]
    for path in GOLDEN.glob("*.txt"):
        text = path.read_text()
        assert "BEGIN" not in text and not any(v in text for v in values), path.name


def test_tabbed_pads_blocks_of_cells_like_go_tabwriter():
    text = "a:\t1\nlonger:\t2\nbreak\nx\ty\tz\nxx\t\n\tw\tv"
    assert output.tabbed(text).split("\n") == [
        "a:       1", "longer:  2", "break", "x   y  z", "xx  ", "    w  v"]


# kubectl's own describe tests (pkg/describe/describe_test.go, TestDescribeIngress), rebuilt here.
KUBECTL_RULE = """\
Name:             bar
Labels:           id1=app1
                  id2=app2
Namespace:        foo
Address:          
Ingress Class:    test
Default backend:  <default>
Rules:
  Host         Path  Backends
  ----         ----  --------
  foo.bar.com  
               /foo   default-backend:80 (<error: endpoints "default-backend" not found>)
Annotations:   <none>
Events:        <none>"""
KUBECTL_DEFAULT_BACKEND = """\
Name:             bar
Labels:           <none>
Namespace:        foo
Address:          
Ingress Class:    <none>
Default backend:  default-backend:80 (<error: endpoints "default-backend" not found>)
Rules:
  Host        Path  Backends
  ----        ----  --------
  *           *     default-backend:80 (<error: endpoints "default-backend" not found>)
Annotations:  <none>
Events:       <none>"""
KUBECTL_EMPTY = """\
Name:             bar
Labels:           <none>
Namespace:        foo
Address:          
Ingress Class:    test
Default backend:  <default>
Rules:
  Host        Path  Backends
  ----        ----  --------
  *           *     <default>
Annotations:  <none>
Events:       <none>"""


def test_describe_ingress_is_byte_for_byte_kubectls():
    backend = IngressBackend("default-backend", 80)
    rule = Ingress("bar", "foo", "test", rules=[IngressRule("foo.bar.com", [IngressPath("/foo", "Prefix", backend)])],
                   labels={"id2": "app2", "id1": "app1"})
    assert output.describe_ingress(rule, [], [], "") == KUBECTL_RULE
    assert output.describe_ingress(Ingress("bar", "foo", default_backend=backend), [], [], "") == \
        KUBECTL_DEFAULT_BACKEND
    assert output.describe_ingress(Ingress("bar", "foo", "test"), [], [], "") == KUBECTL_EMPTY


def test_describe_ingress_backends():
    ingresses, services, endpoints = shop()
    text = output.describe_ingress(ingresses[0], services, endpoints, ADDRESS)
    assert "Address:          192.168.0.21,192.168.0.22\n" in text          # sorted, never clipped
    assert "Ingress Class:    <none>\n" in text
    assert "fallback:80 (172.30.76.30:8080,172.30.76.31:8080,172.30.76.32:8080 + 2 more...)" in text
    assert "web:80 (172.30.76.10:8080,172.30.9.10:8080)\n" in text               # the not-ready one left out
    assert "api:grpc (172.30.76.20:50051)\n" in text                            # the port named like the backend's
    assert 'ghost:80 (<error: endpoints "ghost" not found>)' in text
    assert 'orphan:80(<error: services "orphan" not found>)' in text              # kubectl's missing space
    assert "  shop-tls terminates shop.example,www.shop.example\n  SNI routes sni.example\n" in text
    assert "no-http.example" not in text and "last-applied" not in text
    assert "\n  *" in text                                                       # the host-less rule
    assert "  example.com/long:\n" in text.replace("Annotations:", "            ")
    assert "x" * 138 + "...\n" in text and "x" * 139 not in text


def test_describe_ingress_endpoints_without_ready_addresses():
    svc = Service("web", "default", ports=[ServicePort(80, "http")])
    ing = Ingress("w", "default", default_backend=IngressBackend("web", 80))
    empty = output.describe_ingress(ing, [svc], [Endpoints("web", "default")], "")
    assert "Default backend:  web:80 (<none>)\n" in empty
    not_ready = Endpoints("web", "default", ready("172.30.76.9", ready=False), [EndpointPort(8080, "http")])
    assert "Default backend:  web:80 ()\n" in output.describe_ingress(ing, [svc], [not_ready], "")


def test_describe_escapes_terminal_control_characters():
    cm = ConfigMap("c", "default", {"k": "\x1b[31mred\r"})
    assert "^[[31mred\\r" in output.describe_configmap(cm)


def test_ingress_rows_columns():
    ingresses, _, _ = shop()
    lines = output.ingress_rows(ingresses, False, NOW, ADDRESS).splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["shop"].split()[1:3] == ["<none>", "shop.example,no-http.example"]   # host-less rule skipped
    assert rows["shop"].endswith("   192.168.0.21,...   80, 443   2h")                     # clipped to 16
    assert rows["catch-all"].split()[1:3] == ["nginx", "*"]
    assert "h1.example,h2.example,h3.example + 2 more..." in rows["many-hosts"]
    assert rows["hostless"].split()[2] == "*"
    wide = output.ingress_rows(ingresses, False, NOW, ADDRESS, wide=True)
    assert "192.168.0.21,192.168.0.22" in wide
    assert output.ingress_rows(ingresses, True, NOW, "").splitlines()[0].startswith("NAMESPACE   NAME")


def test_ingress_objects():
    c = seed_cluster(now=0.0)
    ingresses, _, _ = shop()
    doc = json.loads(output.as_list([output.ingress_object(i, ADDRESS) for i in c.ingresses + ingresses], "json"))
    assert doc["kind"] == "List" and len(doc["items"]) == 5
    seed = doc["items"][0]
    assert seed["apiVersion"] == "networking.k8s.io/v1" and seed["kind"] == "Ingress"
    assert seed["metadata"] == {"annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"},
                                "creationTimestamp": "1970-01-01T00:00:00Z", "name": "business-manager",
                                "namespace": "default"}
    assert seed["spec"] == {
        "ingressClassName": "nginx",
        "rules": [{"host": "business-manager.default", "http": {"paths": [
            {"backend": {"service": {"name": "business-manager", "port": {"number": 80}}},
             "path": "/", "pathType": "Prefix"}]}}],
        "tls": [{"hosts": ["business-manager.default"], "secretName": "business-manager-tls"}]}
    assert seed["status"] == {"loadBalancer": {"ingress": [{"ip": "192.168.0.22"}, {"ip": "192.168.0.21"}]}}
    shop_ing = doc["items"][1]
    assert "ingressClassName" not in shop_ing["spec"]
    assert shop_ing["metadata"]["labels"] == {"app": "shop", "tier": "web"}
    assert shop_ing["spec"]["defaultBackend"] == {"service": {"name": "fallback", "port": {"number": 80}}}
    rules = shop_ing["spec"]["rules"]
    assert rules[0]["http"]["paths"][1]["backend"]["service"]["port"] == {"name": "grpc"}
    assert "host" not in rules[1] and rules[2] == {"host": "no-http.example"}
    assert shop_ing["spec"]["tls"][1] == {"hosts": ["sni.example"]}
    assert list(seed) == sorted(seed) and list(seed["metadata"]) == sorted(seed["metadata"])   # kubectl's order
    assert yaml.safe_load(output.as_list([output.ingress_object(c.ingresses[0], "")], "yaml"))["items"][0][
        "status"] == {"loadBalancer": {}}


def test_ingressclass_objects():
    c = seed_cluster(now=0.0)
    classes = c.ingress_classes + [IngressClass("other", "example.com/x")]
    items = [output.ingressclass_object(ic, 60.0) for ic in classes]
    doc = yaml.safe_load(output.as_list(items, "yaml"))
    nginx, other = doc["items"]
    assert nginx == {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                     "metadata": {"annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
                                  "creationTimestamp": "1970-01-01T00:01:00Z", "name": "nginx"},
                     "spec": {"controller": "k8s.io/ingress-nginx"}}
    assert "annotations" not in other["metadata"] and "namespace" not in other["metadata"]


def test_secret_values_never_shown_but_kept_base64_in_objects():
    c = seed_cluster(now=0.0)                  # a fresh password and certificate
    secrets = c.secrets + fixed_secrets()
    text = output.secret_rows(secrets, True, NOW) + "\n".join(output.describe_secret(s) for s in secrets)
    for s in secrets:
        for key, value in decode(s).items():
            assert s.data[key] not in text and value.decode() not in text
            for line in value.decode().splitlines():          # no line of a PEM either
                assert len(line) < 8 or line not in text
            assert re.search(rf"^{re.escape(key)}: +{len(value)} bytes$", output.describe_secret(s), re.M)
    assert "BEGIN" not in text
    for fmt in ("json", "yaml"):
        text = output.as_list([output.secret_object(s) for s in secrets], fmt)
        doc = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        for s, item in zip(secrets, doc["items"]):
            assert item["apiVersion"] == "v1" and item["kind"] == "Secret" and item["type"] == s.type
            assert item["metadata"]["name"] == s.name and item["metadata"]["namespace"] == s.namespace
            assert item.get("data", {}) == s.data                 # base64, as stored
            assert {k: base64.b64decode(v) for k, v in item.get("data", {}).items()} == decode(s)


def test_describe_secret_sizes():
    text = output.describe_secret(fixed_secrets()[1])
    assert text.endswith("Data\n====\ntls.crt:  1164 bytes\ntls.key:  1704 bytes")
    assert "Labels:       app=shop\n" in text and "\nType:  kubernetes.io/tls\n" in text


def test_configmap_objects():
    maps = fixed_config_maps()
    doc = json.loads(output.as_list([output.configmap_object(m) for m in maps], "json"))
    game, empty = doc["items"]
    assert game["apiVersion"] == "v1" and game["kind"] == "ConfigMap"
    assert game["data"] == maps[0].data and list(game["data"]) == sorted(game["data"])
    assert game["metadata"]["labels"] == {"app": "game"} and "data" not in empty
    text = output.as_list([output.configmap_object(maps[0])], "yaml")
    assert "    ui.properties: |\n      color.good=purple\n      color.bad=yellow\n" in text
    assert yaml.safe_load(text)["items"][0] == game


def test_describe_configmap_values_as_they_are():
    text = output.describe_configmap(fixed_config_maps()[0])
    assert "Data\n====\ngame.properties:\n----\nenemies=aliens\nlives:\n----\n3\n" in text
    assert "ui.properties:\n----\ncolor.good=purple\ncolor.bad=yellow\n\n\nBinaryData\n====\n\nEvents:  <none>" in text


# ---- services, endpoints, deployments: the columns kubectl prints ---------------------------

def _svc(**kw) -> Service:
    kw.setdefault("ports", [ServicePort(80, "http", "TCP", 8080, node_port=30080),
                            ServicePort(53, "dns", "UDP", 5353)])
    return Service("web", "default", cluster_ip="10.254.1.1", selector={"app": "web"}, **kw)


def test_get_svc_ports_are_port_colon_node_port_slash_protocol():
    rows = output.service_rows([_svc(type="NodePort")], False, False, 0.0).splitlines()
    assert rows[1].split() == ["web", "NodePort", "10.254.1.1", "<none>", "80:30080/TCP,53/UDP", "0s"]
    assert output.service_rows([_svc(ports=[])], False, False, 0.0).splitlines()[1].split()[4] == "<none>"


def test_a_load_balancer_without_an_address_is_pending():
    pending = _svc(type="LoadBalancer")
    assert output.external_ip(pending) == "<pending>"
    assert output.external_ip(_svc(type="LoadBalancer", load_balancer_ip="192.168.0.240")) == "192.168.0.240"
    assert output.external_ip(_svc(type="LoadBalancer", load_balancer_ip="192.168.0.240",
                                   external_ips=["192.168.0.9"])) == "192.168.0.240,192.168.0.9"
    assert output.external_ip(_svc(type="NodePort")) == "<none>"          # only a LoadBalancer is pending
    assert output.external_ip(_svc(external_ips=["192.168.0.9"])) == "192.168.0.9"
    assert "LoadBalancer Ingress:     <pending>" in output.describe_service(pending, None).splitlines()
    assert "LoadBalancer Ingress" not in output.describe_service(_svc(type="NodePort"), None)


def _half_ready() -> Endpoints:
    return Endpoints("web", "default", [EndpointAddress("172.30.76.2", "node1", "web-a"),
                                        EndpointAddress("172.30.76.3", "node1", "web-b", ready=False)],
                     [EndpointPort(8080, "http"), EndpointPort(5353, "dns", "UDP")])


def test_get_endpoints_lists_only_ready_addresses():
    rows = output.endpoints_rows([_half_ready()], False, {}, 0.0).splitlines()
    assert rows[1].split() == ["web", "172.30.76.2:8080,172.30.76.2:5353", "0s"]
    none_ready = Endpoints("web", "default", [EndpointAddress("172.30.76.3", ready=False)], [EndpointPort(8080)])
    assert output.endpoint_list(none_ready) == "<none>"


def test_endpoints_as_json_keep_not_ready_addresses_apart():
    obj = json.loads(output.as_list([output.endpoints_object(_half_ready())], "json"))["items"][0]
    assert obj["subsets"] == [{
        "addresses": [{"ip": "172.30.76.2", "nodeName": "node1",
                       "targetRef": {"kind": "Pod", "name": "web-a", "namespace": "default"}}],
        "notReadyAddresses": [{"ip": "172.30.76.3", "nodeName": "node1",
                               "targetRef": {"kind": "Pod", "name": "web-b", "namespace": "default"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                  {"name": "dns", "port": 5353, "protocol": "UDP"}],
    }]
    all_ready = output.endpoints_object(Endpoints("web", "default", [EndpointAddress("172.30.76.2")],
                                                  [EndpointPort(8080)]))
    assert all_ready["subsets"] == [{"addresses": [{"ip": "172.30.76.2"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert output.endpoints_object(Endpoints("web", "default"))["subsets"] == []


def test_get_deployments_counts_ready_pods_of_that_deployment_only():
    from netlab.model.objects import Cluster, Deployment
    c = Cluster(deployments=[Deployment("web", "default", 3, {"app": "web"})])
    c.pods = [Pod("web-a", "default", "node1", "172.30.76.2", owner="web", created=100.0),
              Pod("web-b", "default", "node1", "172.30.76.3", owner="web", ready=False, created=50.0),
              Pod("web-c", "shop", "node1", "172.30.76.4", owner="web"),            # another namespace's
              Pod("db-a", "default", "node1", "172.30.76.5", owner="db")]           # another deployment's
    rows = output.deployment_rows(c, c.deployments, False, 170.0).splitlines()
    assert rows[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[1].split() == ["web", "1/3", "2", "1", "2m"]                 # age of the oldest pod
    assert output.deployment_rows(c, c.deployments, True, 170.0).splitlines()[1].split()[:2] == ["default", "web"]


def test_describe_svc_target_port_is_the_target_or_the_port():
    svc = _svc(type="NodePort", ports=[ServicePort(80, "http", "TCP", 8080, node_port=30080),
                                       ServicePort(53, "dns", "UDP")])
    lines = output.describe_service(svc, _half_ready()).splitlines()
    assert [line for line in lines if line.split(":")[0] in ("Port", "TargetPort", "NodePort", "Endpoints")] == [
        "Port:                     http  80/TCP",
        "TargetPort:               8080/TCP",
        "NodePort:                 http  30080/TCP",
        "Endpoints:                172.30.76.2:8080",
        "Port:                     dns  53/UDP",
        "TargetPort:               53/UDP",
        "Endpoints:                172.30.76.2:5353",
    ]


# ---- objects and tables compared whole (so that no key, value or column can change unseen) ----

def test_node_rows_plain_and_wide():
    c = seed_cluster(now=0.0)
    assert output.node_rows(c, c.nodes, False, 0.0, 7200.0, "6.1.0").splitlines() == [
        "NAME    STATUS   ROLES    AGE   VERSION",
        "node1   Ready    <none>   2h    netlab",
        "node2   Ready    <none>   2h    netlab"]
    assert output.node_rows(c, c.nodes[1:], True, 0.0, 7200.0, "6.1.0").splitlines() == [
        "NAME    STATUS   ROLES    AGE   VERSION   INTERNAL-IP    POD-CIDR        KERNEL-VERSION",
        "node2   Ready    <none>   2h    netlab    192.168.0.22   172.30.9.0/24   6.1.0"]


def test_node_object_whole():
    c = seed_cluster(now=0.0)
    assert output.node_object(c.nodes[0], NOW) == {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"},
                     "creationTimestamp": output.timestamp(NOW)},
        "spec": {"podCIDR": "172.30.76.0/24", "podCIDRs": ["172.30.76.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.21"},
                                 {"type": "Hostname", "address": "node1"}],
                   "conditions": [{"type": "Ready", "status": "True"}]}}
    assert output.timestamp(NOW) == "2023-11-14T22:13:20Z"


def test_service_object_whole():
    svc = _svc(type="LoadBalancer", load_balancer_ip="192.168.0.240", external_ips=["192.168.0.9"],
               labels={"tier": "front"}, session_affinity="ClientIP", external_traffic_policy="Local", created=NOW,
               health_check_node_port=32000, load_balancer_source_ranges=["192.168.0.0/24"], ports=[ServicePort(80, "http", "TCP", 8080, node_port=30080), ServicePort(53, "", "UDP")])
    assert output.service_object(svc, 0.0) == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"},
                     "creationTimestamp": "2023-11-14T22:13:20Z"},
        "spec": {"type": "LoadBalancer",
                 "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
                           {"protocol": "UDP", "port": 53, "targetPort": 53}],
                 "sessionAffinity": "ClientIP", "clusterIP": "10.254.1.1", "selector": {"app": "web"},
                 "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
                 "loadBalancerSourceRanges": ["192.168.0.0/24"], "internalTrafficPolicy": "Cluster",
                 "externalIPs": ["192.168.0.9"]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.0.240"}]}}}
    alias = Service("search", "default", type="ExternalName", external_name="www.example.com")
    assert output.service_object(alias, NOW) == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "search", "namespace": "default", "labels": {},
                     "creationTimestamp": "2023-11-14T22:13:20Z"},                 # `now` when it has no time
        "spec": {"type": "ExternalName", "ports": [], "sessionAffinity": "None", "externalName": "www.example.com"},
        "status": {"loadBalancer": {}}}
    assert "externalTrafficPolicy" in output.service_object(_svc(type="NodePort"), NOW)["spec"]
    assert "externalTrafficPolicy" not in output.service_object(_svc(), NOW)["spec"]


def test_pod_object_whole():
    c = seed_cluster(now=0.0)
    p = next(p for p in c.pods if p.name == "data-product-6664c6dcb9-tkmms")
    p.created = NOW
    assert output.pod_object(c, p, "Running", True, 2) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "data-product-6664c6dcb9-tkmms", "namespace": "default", "labels": dict(p.labels),
                     "creationTimestamp": "2023-11-14T22:13:20Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "data-product-6664c6dcb9", "controller": True}]},
        "spec": {"nodeName": "node2", "containers": [], "terminationGracePeriodSeconds": 30},
        "status": {"phase": "Running", "podIP": "172.30.9.2", "podIPs": [{"ip": "172.30.9.2"}],
                   "hostIP": "192.168.0.22", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "data-product", "ready": True, "restartCount": 2}]}}
    assert p.labels and output.pod_object(c, p, "Running", True, 0)["metadata"]["labels"] is not p.labels
    lone = Pod("lone", "default", "node1", "172.30.76.9", labels={"a": "b"})
    got = output.pod_object(c, lone, "Pending", False, 0, waiting="CreateContainerConfigError")
    assert "ownerReferences" not in got["metadata"]
    assert got["status"]["conditions"] == [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    assert got["status"]["containerStatuses"][0]["name"] == "lone"
    assert got["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"


def test_as_list_yaml_and_json_text():
    items = [{"kind": "Node", "data": {"conf": "a\nb\n", "one": "x"}}]
    assert output.as_list(items, "yaml") == (
        "apiVersion: v1\nkind: List\nitems:\n- kind: Node\n  data:\n    conf: |\n      a\n      b\n    one: x\n"
        "metadata:\n  resourceVersion: ''")
    assert output.as_list([], "json") == (
        '{\n    "apiVersion": "v1",\n    "kind": "List",\n    "items": [],\n    "metadata": {\n'
        '        "resourceVersion": ""\n    }\n}')
