"""What `describe svc`, `get svc`, `describe pod` (a pod of several containers) and
`get pod -o json` print, pinned line by line: the labels kubectl writes, their padding,
the defaults it shows (<none>, <unset>, <pending>), and only ready addresses."""
import re

from netlab import output, pod_status
from netlab.model.objects import EndpointAddress, EndpointPort, Endpoints, Service, ServicePort
from netlab.model.seed import seed_cluster

NOW = 1_700_000_000.0                      # 2023-11-14T22:13:20Z
KUBE_DNS = "kube-dns-7cd94476cd-kr76t"     # the seed's one pod of several containers


def _fields(text: str) -> list[tuple[str, str]]:
    """describe's `Label:   value` lines as (label, value), whatever the padding."""
    return [re.fullmatch(r"([^:]+):\s+(.*)", line).groups() for line in text.splitlines()]


# ---- kubectl describe svc ---------------------------------------------------------------

def _web_endpoints() -> Endpoints:
    return Endpoints("web", "shop", [EndpointAddress("172.30.76.2", "node1", "web-a"),
                                     EndpointAddress("172.30.9.5", "node2", "web-b", ready=False)],
                     [EndpointPort(8080, "http"), EndpointPort(5353, "dns", "UDP")])


def test_describe_node_port_service_whole():
    """Every label in kubectl's words and order, values after the widest label plus two
    ("External Traffic Policy:" is in the block, so the column starts at 26)."""
    svc = Service("web", "shop", type="NodePort", cluster_ip="10.254.1.1",
                  ports=[ServicePort(80, "http", "TCP", 8080, node_port=30080),
                         ServicePort(53, "dns", "UDP", "dns", node_port=30053)],
                  selector={"app": "web", "tier": "front"}, labels={"team": "shop"},
                  session_affinity="ClientIP", external_traffic_policy="Local",
                  external_ips=["192.168.0.9", "192.168.0.10"])
    assert output.describe_service(svc, _web_endpoints()) == "\n".join([
        "Name:                     web",
        "Namespace:                shop",
        "Labels:                   team=shop",
        "Annotations:              <none>",
        "Selector:                 app=web,tier=front",
        "Type:                     NodePort",
        "IP:                       10.254.1.1",
        "External IPs:             192.168.0.9,192.168.0.10",
        "Port:                     http  80/TCP",
        "TargetPort:               8080/TCP",
        "NodePort:                 http  30080/TCP",
        "Endpoints:                172.30.76.2:8080",          # the not-ready address is not listed
        "Port:                     dns  53/UDP",
        "TargetPort:               dns/UDP",                   # a named target port, as named
        "NodePort:                 dns  30053/UDP",
        "Endpoints:                172.30.76.2:5353",
        "Session Affinity:         ClientIP",
        "External Traffic Policy:  Local",
        "Events:                   <none>",
    ])


def test_describe_load_balancer_with_an_unnamed_port_whole():
    """A port without a name is <unset>; the balancer's address is its ingress; no Endpoints object: <none>."""
    svc = Service("db", "default", type="LoadBalancer", cluster_ip="10.254.1.7",
                  ports=[ServicePort(3306, "", "TCP", 3306, node_port=31306)],
                  load_balancer_ip="192.168.0.240")
    assert output.describe_service(svc, None) == "\n".join([
        "Name:                     db",
        "Namespace:                default",
        "Labels:                   <none>",
        "Annotations:              <none>",
        "Selector:                 <none>",
        "Type:                     LoadBalancer",
        "IP:                       10.254.1.7",
        "LoadBalancer Ingress:     192.168.0.240",
        "Port:                     <unset>  3306/TCP",
        "TargetPort:               3306/TCP",
        "NodePort:                 <unset>  31306/TCP",
        "Endpoints:                <none>",
        "Session Affinity:         None",
        "External Traffic Policy:  Cluster",
        "Events:                   <none>",
    ])


def test_describe_external_name_service_shows_the_name_not_an_ip():
    svc = Service("search", "default", type="ExternalName", external_name="www.example.com")
    assert _fields(output.describe_service(svc, None)) == [
        ("Name", "search"), ("Namespace", "default"), ("Labels", "<none>"), ("Annotations", "<none>"),
        ("Selector", "<none>"), ("Type", "ExternalName"), ("External Name", "www.example.com"),
        ("Session Affinity", "None"), ("Events", "<none>")]          # no External Traffic Policy


def test_describe_cluster_ip_service_has_no_traffic_policy_and_headless_ip_is_none():
    svc = Service("db", "default", cluster_ip="None", ports=[ServicePort(5432, "pg", "TCP", 5432)],
                  selector={"app": "db"})
    ep = Endpoints("db", "default", [EndpointAddress("172.30.76.4")], [EndpointPort(5432, "pg")])
    assert _fields(output.describe_service(svc, ep)) == [
        ("Name", "db"), ("Namespace", "default"), ("Labels", "<none>"), ("Annotations", "<none>"),
        ("Selector", "app=db"), ("Type", "ClusterIP"), ("IP", "None"),
        ("Port", "pg  5432/TCP"), ("TargetPort", "5432/TCP"), ("Endpoints", "172.30.76.4:5432"),
        ("Session Affinity", "None"), ("Events", "<none>")]


# ---- kubectl get svc ---------------------------------------------------------------------

def _services() -> list[Service]:
    return [Service("search", "default", type="ExternalName", external_name="www.example.com", created=NOW - 5),
            Service("web", "shop", type="NodePort", cluster_ip="10.254.1.1",
                    ports=[ServicePort(80, "http", "TCP", 8080, node_port=30080)],
                    selector={"app": "web", "tier": "front"}, created=NOW - 7200)]


def test_get_svc_plain_table_whole():
    assert output.service_rows(_services(), False, False, NOW).splitlines() == [
        "NAME     TYPE           CLUSTER-IP   EXTERNAL-IP       PORT(S)        AGE",
        "search   ExternalName   <none>       www.example.com   <none>         5s",
        "web      NodePort       10.254.1.1   <none>            80:30080/TCP   2h"]


def test_get_svc_wide_all_namespaces_puts_namespace_first_and_selector_last():
    assert output.service_rows(_services(), True, True, NOW).splitlines() == [
        "NAMESPACE   NAME     TYPE           CLUSTER-IP   EXTERNAL-IP       PORT(S)        AGE   SELECTOR",
        "default     search   ExternalName   <none>       www.example.com   <none>         5s    <none>",
        "shop        web      NodePort       10.254.1.1   <none>            80:30080/TCP   2h    app=web,tier=front"]


# ---- kubectl describe pod: a pod of several containers ------------------------------------

def test_describe_pod_whose_runtime_has_not_started_its_containers():
    """No status file yet: each container waits in ContainerCreating, runs nothing yet
    ("runs it"), and has no ports to show."""
    c = seed_cluster(now=NOW)
    pod = next(p for p in c.pods if p.name == KUBE_DNS)
    statuses = pod_status.statuses(pod.containers[:2], None)
    lines = output.describe_pod(c, pod, "Pending", False, 0, None, statuses).splitlines()
    start = lines.index("Containers:")

    def waiting(name):
        return [f"  {name}:",
                "    Image:          <none> (not pulled: netlab-kube-dns-pod runs it)",
                "    Port:           <none>",
                "    State:          Waiting",
                "      Reason:       ContainerCreating",
                "    Ready:          False",
                "    Restart Count:  0"]
    assert lines[start:] == [
        "Containers:",
        *waiting("kubedns"),
        *waiting("dnsmasq"),
        "Conditions:",
        "  Type    Status",
        "  Ready   False",
        "Events:   <none>"]


# ---- kubectl get pod -o json ---------------------------------------------------------------

def test_pod_object_waiting_reason_without_words_has_no_message():
    c = seed_cluster(now=0.0)
    pod = next(p for p in c.pods if p.name == "business-manager-666f454f7f-7l86b")
    obj = output.pod_object(c, pod, "Pending", False, 0, waiting="CreateContainerConfigError")
    assert obj["status"]["containerStatuses"] == [
        {"name": "business-manager", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "CreateContainerConfigError"}}}]


def test_pod_object_of_several_containers_all_ready():
    """Each container's spec (name, command, ports) and status; all ready: no NotReady reason."""
    c = seed_cluster(now=0.0)
    pod = next(p for p in c.pods if p.name == KUBE_DNS)
    statuses = [
        {"name": "kubedns", "ready": True, "restarts": 0, "pid": 10, "state": "running", "started": NOW,
         "command": ["netlab-kube-dns", "--dns-port=10053"], "ports": [["dns-local", 10053, "UDP"]]},
        {"name": "healthz", "ready": True, "restarts": 3, "pid": 11, "state": "running", "started": NOW + 61,
         "command": ["netlab-exechealthz", "--port=8080"], "ports": [["", 8080, "TCP"]]},
    ]
    obj = output.pod_object(c, pod, "Running", True, 3, None, statuses)
    assert obj["spec"] == {"nodeName": "node2", "containers": [
        {"name": "kubedns", "command": ["netlab-kube-dns", "--dns-port=10053"],
         "ports": [{"name": "dns-local", "containerPort": 10053, "protocol": "UDP"}]},
        {"name": "healthz", "command": ["netlab-exechealthz", "--port=8080"],
         "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
        "terminationGracePeriodSeconds": 30}
    assert obj["status"]["containerStatuses"] == [
        {"name": "kubedns", "ready": True, "restartCount": 0,
         "state": {"running": {"startedAt": "2023-11-14T22:13:20Z"}}},
        {"name": "healthz", "ready": True, "restartCount": 3,
         "state": {"running": {"startedAt": "2023-11-14T22:14:21Z"}}}]
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
