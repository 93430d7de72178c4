"""The bridge CNI plugin's plan: docker0 per node, a veth per pod, their names and addresses."""
import hashlib

from netlab.cni import bridge
from netlab.model.objects import Cluster, Node, Pod

NODE = Node("node1", "192.168.0.21", "172.30.76.0/24")


def test_the_host_veth_is_veth_and_8_hex_of_namespace_slash_name():
    pod = Pod("web-1", "shop", "node1", "172.30.76.7")
    assert bridge.host_veth(pod) == "veth" + hashlib.sha256(b"shop/web-1").hexdigest()[:8]
    assert bridge.host_veth(Pod("web-1", "default", "node1", "172.30.76.7")) != bridge.host_veth(pod)
    assert len(bridge.host_veth(pod)) == 12          # within the kernel's 15 characters


def test_docker0_has_a_fixed_locally_administered_mac_per_lab_and_node():
    mac = bridge.bridge_mac("lab", NODE)
    assert mac == "02:" + ":".join(f"{b:02x}" for b in hashlib.sha256(b"lab/node1/docker0").digest()[:5])
    assert bridge.bridge_mac("lab", NODE) == mac and bridge.bridge_mac("other", NODE) != mac
    assert bridge.bridge_mac("lab", Node("node2", "192.168.0.22", "172.30.9.0/24")) != mac


def test_bridge_address_is_the_subnets_first_address():
    assert bridge.bridge_address(NODE) == "172.30.76.1/24"
    assert bridge.bridge_address(Node("n", "192.168.0.9", "10.244.8.0/23")) == "10.244.8.1/23"


def test_pod_net_whole():
    c = Cluster(name="lab", nodes=[NODE, Node("node2", "192.168.0.22", "10.244.8.0/23")])
    pod = Pod("web-1", "shop", "node1", "172.30.76.7")
    assert bridge.pod_net(c, pod) == bridge.PodNet("lab-shop.web-1", bridge.host_veth(pod), "172.30.76.7/24",
                                                   "172.30.76.1", "node1", 1007)
    far = Pod("api", "default", "node2", "10.244.9.3")
    assert bridge.pod_net(c, far) == bridge.PodNet("lab-default.api", bridge.host_veth(far), "10.244.9.3/23",
                                                   "10.244.8.1", "node2", 1000 + 256 + 3)
    assert (bridge.MTU, bridge.BRIDGE, bridge.POD_IFACE) == (1450, "docker0", "eth0")
