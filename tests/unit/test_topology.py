import textwrap

import pytest

from netlab.errors import ModelError
from netlab.model import topology
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
    with pytest.raises(ModelError, match=r"^pods\[0\]\.containers\[0\]\.cmd is not a field netlab knows$"):
        topology.parse({**base, "pods": [{"name": "p", "containers": [{"cmd": ["x"]}]}]})
