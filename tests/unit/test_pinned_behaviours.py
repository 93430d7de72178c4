"""Behaviours no other unit test pinned: each test fails if its behaviour changes."""
import pytest

from netlab.errors import ModelError
from netlab.model import manifests, services
from netlab.model.objects import Cluster, Node, Service, ServicePort

MIB = 1024 * 1024


def test_the_config_map_limit_counts_bytes_not_characters(tmp_path):
    """1 MiB of UTF-8 bytes: 524,289 two-byte characters are 1,048,578 bytes, too many."""
    f = tmp_path / "m.yaml"
    f.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{a: {'é' * (MIB // 2 + 1)}}}\n",
                 encoding="utf-8")
    with pytest.raises(ModelError, match=r"m\.yaml: document 1: data: the ConfigMap holds 1048578 "
                                         r"bytes, more than the 1048576 the API server allows$"):
        manifests.load(f)


def test_the_load_balancer_pool_checked_is_the_clusters_underlay_one():
    """On a 192.168.50.0/24 underlay the pool is .50.200-.50.250, not the seed's 192.168.0.200-250."""
    c = Cluster(nodes=[Node("node1", "192.168.50.21", "172.30.76.0/24")], underlay_cidr="192.168.50.0/24")

    def lb(ip):
        return Service("web", "default", type="LoadBalancer", cluster_ip="10.254.1.1", load_balancer_ip=ip,
                       ports=[ServicePort(80, "http", "TCP", 8080, 30080)])
    services.validate_service(c, lb("192.168.50.220"))
    with pytest.raises(ModelError, match=r"^service default/web: spec\.loadBalancerIP: 192\.168\.0\.220 is outside "
                                         r"the load balancer pool 192\.168\.50\.200-192\.168\.50\.250$"):
        services.validate_service(c, lb("192.168.0.220"))
