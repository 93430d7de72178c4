"""The Services and endpoints of upstream kube-proxy's TestOverallIPTablesRules and
TestOverallNFTablesRules (pkg/proxy/{iptables,nftables}/proxier_test.go, v1.33 era): the
two tests feed both proxiers the same six; only their fake node differs."""
from netlab.kube_proxy.view import Endpoint as E
from netlab.kube_proxy.view import ServicePort as SP

PORTS = [
    SP("ns1", "svc1", "p80", "TCP", 80, "172.30.0.41", endpoints=(E("10.180.0.1", 80),)),
    # LoadBalancer, policy Local; its one endpoint has no nodeName: not local
    SP("ns2", "svc2", "p80", "TCP", 80, "172.30.0.42", type="LoadBalancer", node_port=3001,
       load_balancer_ips=("1.2.3.4",), external_ips=("192.168.99.22",), external_policy_local=True,
       health_check_node_port=30000, endpoints=(E("10.180.0.2", 80),)),
    SP("ns3", "svc3", "p80", "TCP", 80, "172.30.0.43", type="NodePort", node_port=3003,
       endpoints=(E("10.180.0.3", 80),)),
    SP("ns4", "svc4", "p80", "TCP", 80, "172.30.0.44", type="NodePort", external_ips=("192.168.99.33",),
       endpoints=(E("10.180.0.4", 80), E("10.180.0.5", 80, node="test-node"))),
    # LoadBalancer, policy Cluster (its healthCheckNodePort is not used), source range, ClientIP affinity
    SP("ns5", "svc5", "p80", "TCP", 80, "172.30.0.45", type="LoadBalancer", node_port=3002,
       load_balancer_ips=("5.6.7.8",), health_check_node_port=30000, source_ranges=(" 203.0.113.0/25",),
       affinity_seconds=10800, endpoints=(E("10.180.0.3", 80),)),
    SP("ns6", "svc6", "p80", "TCP", 80, "172.30.0.46"),
]
