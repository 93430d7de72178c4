import re
import textwrap

import pytest
import yaml

from netlab.errors import ModelError
from netlab.model import controller, topology
from netlab.model.objects import Cluster

TOPO = textwrap.dedent("""\
    cluster:
      clusterCIDR: 10.244.0.0/16
      flannelMode: routes
    underlay:
      cidr: 192.168.50.0/24
      router: 192.168.50.1
      hosts:
        - {name: client, ip: 192.168.50.100}
    nodes:
      - {name: worker-a, ip: 192.168.50.11, podCIDR: 10.244.1.0/24}
      - {name: worker-b, ip: 192.168.50.12, podCIDR: 10.244.2.0/24}
    deployments:
      - name: web
        replicas: 3
        labels: {app: web, tier: front}
    pods:
      - {name: fixed, namespace: tools, ip: 10.244.2.50, labels: {run: fixed}}
      - {name: anywhere}
""")


def test_topology_file_loads(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text(TOPO)
    c = topology.load(f, "mylab", now=100.0)
    assert c.name == "mylab" and c.cluster_cidr == "10.244.0.0/16" and c.flannel_mode == "routes"
    assert [(n.name, n.ip, n.pod_cidr) for n in c.nodes] == [
        ("worker-a", "192.168.50.11", "10.244.1.0/24"), ("worker-b", "192.168.50.12", "10.244.2.0/24")]
    assert [(h.name, h.ip) for h in c.hosts] == [("client", "192.168.50.100")]
    fixed = next(p for p in c.pods if p.name == "fixed")
    assert (fixed.namespace, fixed.node, fixed.ip) == ("tools", "worker-b", "10.244.2.50")
    web = [p for p in c.pods if p.owner == "web"]
    assert len(web) == 3 and all(p.labels == {"app": "web", "tier": "front"} for p in web)
    ips = [p.ip for p in c.pods]
    assert len(set(ips)) == len(ips)
    assert Cluster.from_dict(c.to_dict()) == c


def test_default_hosts_are_client_and_db():
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}]})
    assert [(h.name, h.ip) for h in c.hosts] == [("client", "192.168.0.100"), ("db", "192.168.0.103")]


def test_error_names_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(TOPO.replace("podCIDR: 10.244.2.0/24", "podCIDR: 10.244.1.0/24"))
    with pytest.raises(ModelError, match=r"nodes\[1\]\.podCIDR: 10\.244\.1\.0/24 overlaps nodes\[0\]\.podCIDR") as e:
        topology.load(f, "mylab")
    assert str(e.value) == f"{f}: nodes[1].podCIDR: 10.244.1.0/24 overlaps nodes[0].podCIDR 10.244.1.0/24"


def test_yaml_syntax_error_names_the_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("nodes:\n  - {name: a\n")
    with pytest.raises(ModelError, match=rf"^{f}: not valid YAML at line \d"):
        topology.load(f)


def test_missing_file():
    with pytest.raises(ModelError, match="nope.yaml: cannot read"):
        topology.load("/nonexistent/nope.yaml")


def test_containers_give_command_ports_and_env():
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}],
                        "deployments": [{"name": "web", "replicas": 2, "containers": [{
                            "name": "web", "command": ["netlab-whoami"], "args": ["--port", "8080"],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [{"name": "MODE", "value": "demo"}]}]}]})
    assert all((p.command, p.container_ports, p.env) ==
               (["netlab-whoami", "--port", "8080"], {"http": 8080}, {"MODE": "demo"}) for p in c.pods)


def test_container_errors_name_the_field():
    base = {"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}]}
    with pytest.raises(ModelError, match=r"^pods\[0\]\.containers\[0\]\.ports\[0\]\.containerPort: 'x' must be a int$"):
        topology.parse({**base, "pods": [{"name": "p", "containers": [{"ports": [{"containerPort": "x"}]}]}]})
    with pytest.raises(ModelError, match=r"^pods\[0\]\.containers\[0\]\.cmd: unknown field \(known: args, command, env, envFrom, "
                                         r"image, imagePullPolicy, name, ports, securityContext, volumeMounts\)$"):
        topology.parse({**base, "pods": [{"name": "p", "containers": [{"cmd": ["x"]}]}]})


# ---- parse(): every field read, every default, every error message whole -----------------------

def test_parse_reads_every_field_and_default():
    from netlab.model.objects import Deployment, Host, Node, Pod
    doc = {"cluster": {"clusterCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12", "flannelMode": "seed",
                       "dnsDomain": "lab.local", "probabilityDecimals": 10, "dnsUpstream": "192.168.5.1:53"},
           "underlay": {"cidr": "192.168.5.0/24", "router": "192.168.5.1",
                        "hosts": [{"name": "db", "ip": "192.168.5.103"}]},
           "nodes": [{"name": "n1", "ip": "192.168.5.21", "podCIDR": "10.244.1.0/24"}],
           "deployments": [{"name": "web", "namespace": "shop", "replicas": 2, "labels": {"tier": 1}},
                           {"name": "api"}],
           "pods": [{"name": "p", "namespace": "shop", "node": "n1", "ip": "10.244.1.50", "labels": {"x": 2}},
                    {"name": "q"}]}
    c = topology.parse(doc, "mylab", now=7.0)
    assert (c.name, c.cluster_cidr, c.service_cidr, c.flannel_mode, c.dns_domain, c.probability_decimals,
            c.dns_upstream) == ("mylab", "10.244.0.0/16", "10.96.0.0/12", "seed", "lab.local", 10, "192.168.5.1:53")
    assert (c.underlay_cidr, c.router, c.hosts) == ("192.168.5.0/24", "192.168.5.1", [Host("db", "192.168.5.103")])
    assert c.nodes == [Node("n1", "192.168.5.21", "10.244.1.0/24")]
    whoami = controller.default_spec()
    web, api = c.deployments
    assert (web.name, web.namespace, web.replicas, web.labels, web.command) == (
        "web", "shop", 2, {"tier": "1"}, whoami["command"])
    assert (api.name, api.namespace, api.replicas, api.labels) == ("api", "default", 1, {"app": "api"})
    assert isinstance(web, Deployment)
    p, q = [x for x in c.pods if not x.owner]
    assert p == Pod("p", "shop", "n1", "10.244.1.50", {"x": "2"}, created=7.0, **whoami)
    assert (q.name, q.namespace, q.node, q.ip, q.labels, q.created) == ("q", "default", "n1", "10.244.1.2", {}, 7.0)
    assert sorted((x.owner, x.namespace) for x in c.pods if x.owner) == [
        ("api", "default"), ("web", "shop"), ("web", "shop")]


def test_parse_defaults_routes_mode_and_the_seeds_outside_hosts():
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}]}, "x")
    assert c.flannel_mode == "routes" and [(h.name, h.ip) for h in c.hosts] == [
        ("client", "192.168.0.100"), ("db", "192.168.0.103")]
    assert topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}],
                           "underlay": {"hosts": []}}, "x").hosts == []


NODE = {"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}
PARSE_ERRORS = [
    ([], "the file must hold a mapping with nodes, deployments, pods, ..."),
    ({"extra": 1}, "extra: unknown field (known: cluster, deployments, manifests, nodes, pods, policy, underlay)"),
    ({"nodes": {"n1": 1}}, "nodes: must be a list"),
    ({"nodes": [NODE], "deployments": "web"}, "deployments: must be a list"),
    ({"nodes": [NODE], "pods": "p"}, "pods: must be a list"),
    ({"nodes": ["n1"]}, "nodes[0]: must be a mapping, got str"),
    ({"nodes": [NODE], "deployments": [{"name": "web", "size": 1}]},
     "deployments[0].size: unknown field (known: name, namespace, replicas, labels, containers)"),
    ({"nodes": [NODE], "deployments": [{"name": "web", "replicas": True}]},
     "deployments[0].replicas: True must be a int"),
    ({"nodes": [NODE], "pods": [{"node": "n1"}]}, "pods[0].name: required field is missing"),
    ({"nodes": [NODE], "pods": [{"name": "p", "ip": 5}]}, "pods[0].ip: 5 must be a str"),
    ({"nodes": [NODE], "underlay": {"hosts": [{"name": "db"}]}}, "underlay.hosts[0].ip: required field is missing"),
    ({"nodes": [NODE], "cluster": {"dnsDomain": 1}}, "cluster.dnsDomain: 1 must be a str"),
    ({"nodes": [NODE], "deployments": [{"name": "web", "containers": "x"}]},
     "deployments[0].containers: 'x' must be a list"),
]


@pytest.mark.parametrize("doc,message", PARSE_ERRORS, ids=[m.split(":")[0] for _, m in PARSE_ERRORS])
def test_parse_errors_whole(doc, message):
    with pytest.raises(ModelError, match="^" + re.escape(message) + "$"):
        topology.parse(doc, "x")


def test_more_replicas_than_the_pod_subnets_hold_is_refused_before_any_pod_is_made(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text(TOPO.replace("replicas: 3", "replicas: 1000000"))
    with pytest.raises(ModelError, match=r"^" + re.escape(
            f"{f}: deployments[0].replicas: 1000000 is more pods than the lab can hold: its 2 nodes' podCIDRs "
            "have 504 free addresses (netlab node add makes room)") + "$"):
        topology.load(f)
    f.write_text(TOPO.replace("replicas: 3", "replicas: 504"))     # every address but the two bare pods'
    assert len(topology.load(f).pods) == 506


def test_two_deployments_that_fit_alone_but_not_together_are_refused_naming_the_second():
    doc = {"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/28"}],
           "deployments": [{"name": "a", "replicas": 10}, {"name": "b", "replicas": 5}]}
    with pytest.raises(ModelError, match=r"^deployments\[1\]\.replicas: 5 is more pods than the lab can hold: "
                                         r"its node's podCIDR has 3 free addresses"):
        topology.parse(doc)


@pytest.mark.parametrize("section,key,value,message", [
    ("cluster", "serviceCIDR", "10.244.128.0/17", "cluster.serviceCIDR: 10.244.128.0/17 overlaps cluster.clusterCIDR "
                                                  "10.244.0.0/16"),
    ("underlay", "cidr", "10.0.0.0/8", "underlay.cidr: 10.0.0.0/8 overlaps cluster.clusterCIDR 10.244.0.0/16"),
])
def test_networks_that_overlap_the_pod_network_are_refused_naming_both(tmp_path, section, key, value, message):
    doc = yaml.safe_load(TOPO)
    doc[section][key] = value
    with pytest.raises(ModelError, match="^" + re.escape(message) + "$"):
        topology.parse(doc)
