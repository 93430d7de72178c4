"""Chain names: computed here independently, and compared with names seen on real clusters."""
import base64
import hashlib

import pytest

from netlab.kube_proxy import names
from netlab.model.names import host_port


def reference(prefix: str, text: str) -> str:
    """kube-proxy's rule, restated: prefix + base32(sha256(text))[:16]."""
    return prefix + base64.b32encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")[:16]


CASES = [
    # namespace, service, port name, protocol as written in the Service
    ("default", "kubernetes", "https", "TCP"),
    ("kube-system", "kube-dns", "dns", "UDP"),
    ("kube-system", "kube-dns", "dns-tcp", "TCP"),
    ("default", "mysql", "", "TCP"),
    ("ingress-nginx", "ingress-nginx", "http", "TCP"),
    ("default", "data-product", "data-product", "TCP"),
    ("team-a", "sctp-svc", "assoc", "SCTP"),
]
ENDPOINTS = ["172.30.76.3:50051", "192.168.0.103:3306", "172.30.9.4:53", "[fd00::5]:8080"]


@pytest.mark.parametrize("ns,svc,port,proto", CASES)
def test_service_port_name(ns, svc, port, proto):
    assert names.service_port_name(ns, svc, port) == f"{ns}/{svc}:{port}"


@pytest.mark.parametrize("ns,svc,port,proto", CASES)
def test_service_chains_hash_port_name_and_lower_case_protocol(ns, svc, port, proto):
    spn = f"{ns}/{svc}:{port}"
    text = spn + proto.lower()
    assert names.service_chain(spn, proto) == reference("KUBE-SVC-", text)
    assert names.firewall_chain(spn, proto) == reference("KUBE-FW-", text)
    assert names.local_chain(spn, proto) == reference("KUBE-XLB-", text)
    # Upper and lower case protocol give the same name (kube-proxy lower-cases it).
    assert names.service_chain(spn, proto.lower()) == names.service_chain(spn, proto)


@pytest.mark.parametrize("ns,svc,port,proto", CASES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_chain_adds_ip_port(ns, svc, port, proto, endpoint):
    spn = f"{ns}/{svc}:{port}"
    assert names.endpoint_chain(spn, proto, endpoint) == reference("KUBE-SEP-", spn + proto.lower() + endpoint)


def test_chain_names_fit_iptables_limit():
    longest = names.firewall_chain("a" * 63 + "/" + "b" * 63 + ":" + "c" * 63, "sctp")
    for chain in (names.service_chain("x/y:z", "tcp"), names.endpoint_chain("x/y:z", "tcp", "1.2.3.4:5"),
                  names.local_chain("x/y:z", "tcp"), longest):
        assert len(chain) <= 28


def test_different_inputs_give_different_names():
    assert names.service_chain("default/a:http", "tcp") != names.service_chain("default/a:http", "udp")
    assert names.service_chain("default/a:", "tcp") != names.service_chain("default/b:", "tcp")
    assert (names.endpoint_chain("default/a:", "tcp", "10.0.0.1:80")
            != names.endpoint_chain("default/a:", "tcp", "10.0.0.1:81"))


@pytest.mark.parametrize("ip,port,expected", [
    ("172.30.76.3", 50051, "172.30.76.3:50051"),
    ("fd00::5", 8080, "[fd00::5]:8080"),
])
def test_host_port_is_go_join_host_port(ip, port, expected):
    assert host_port(ip, port) == expected


# Names copied from iptables-save output of real clusters (issue trackers, blog posts).
@pytest.mark.parametrize("spn,proto,expected", [
    ("default/kubernetes:https", "tcp", "KUBE-SVC-NPX46M4PTMTKRN6Y"),
    ("kube-system/kube-dns:dns", "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU"),
    ("kube-system/kube-dns:dns-tcp", "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4"),
    ("kube-system/kube-dns:metrics", "tcp", "KUBE-SVC-JD5MR3NA4I4DYORP"),
    ("kube-system/consul:rpc", "tcp", "KUBE-SVC-NAKX6UQGKMWYNALM"),
])
def test_real_cluster_service_chains(spn, proto, expected):
    assert names.service_chain(spn, proto) == expected


@pytest.mark.parametrize("endpoint,expected", [
    ("172.31.2.224:443", "KUBE-SEP-LWZLSIXIW4RDE2LP"),
    ("10.10.11.81:6443", "KUBE-SEP-KV5HF5UITD75UCB5"),
    ("192.168.1.5:6443", "KUBE-SEP-54IUPJM2TTG4TKF2"),
    ("172.20.0.2:6443", "KUBE-SEP-ME73ZWD7U6KL3OSU"),
])
def test_real_cluster_endpoint_chains(endpoint, expected):
    assert names.endpoint_chain("default/kubernetes:https", "tcp", endpoint) == expected
