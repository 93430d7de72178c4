"""A user's own tests of a network idea, on labs from netlab's pytest plugin (installed with
netlab; run as root):

    pytest examples/pytest/ --netlab-export=/tmp/netlab-failures

Each test gets a seed lab of its own (the `lab` fixture), removed afterwards, also when the
test fails (then exported under --netlab-export) or the run is interrupted.
"""
from scapy.layers.inet import IP

SHOP = "business-manager-666f454f7f-7l86b"     # a pod on node1 of the seed lab
FRONT = """
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  selector: {app: data-product}
  ports: [{name: http, port: 8000, targetPort: 50051}]
"""


def test_a_new_service_port_reaches_the_pods(lab):
    assert "service/front created" in lab.apply(FRONT)
    r = lab.exec(SHOP, "python3", "-c", "import urllib.request as u; print(u.urlopen('http://front:8000/"
                                        "api/v1/product/list', timeout=5).status)")
    assert r.stdout.strip() == "200", r.stderr
    lab.apply(FRONT.replace("targetPort: 50051", "targetPort: 9"))         # now to a port nobody serves
    r = lab.exec(SHOP, "python3", "-c", "import urllib.request as u; u.urlopen('http://front:8000/', timeout=3)")
    assert r.returncode != 0 and "refused" in r.stderr.lower()


def test_cross_node_traffic_is_vxlan_between_the_nodes(lab):
    node2_pod = next(p for p in lab.cluster().pods if p.node == "node2" and p.name.startswith("data-product"))
    with lab.capture("node1:eth0", "node2:eth0", bpf="udp port 8472", timeout=2) as cap:
        lab.exec(SHOP, "ping", "-c", "2", node2_pod.ip, check=True)
    seen = [(where, pkt) for where, _, pkt in cap.packets()]
    assert {where for where, _ in seen} == {"node1:eth0", "node2:eth0"}
    inner = [pkt.lastlayer() for _, pkt in seen]
    outer = {(pkt[IP].src, pkt[IP].dst) for _, pkt in seen}
    assert ("192.168.0.21", "192.168.0.22") in outer and inner


def test_kubectl_and_the_python_client_see_a_scale(lab):
    """The lab's Kubernetes API, with the user's own tools: kubectl scales, the client lists."""
    from kubernetes import client

    assert lab.kubectl("scale", "deployment", "data-product", "--replicas", "4").stdout.strip() == \
        "deployment.apps/data-product scaled"
    pods = client.CoreV1Api(lab.client).list_namespaced_pod("default", label_selector="app=data-product")
    assert len(pods.items) == 4 and all(p.status.pod_ip for p in pods.items)
    endpoints = lab.kubectl("get", "endpoints", "data-product", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
    assert sorted(endpoints.stdout.split()) == sorted(p.status.pod_ip for p in pods.items)
