"""The walk-through's figure 1 as `netlab up` shows it: netlab.walkthrough (pure parts)."""
import pytest

from netlab import walkthrough
from netlab.model.objects import Host, IngressRule
from netlab.model.seed import NODE1, NODE2, platform, seed_cluster


@pytest.fixture(scope="module")
def seed():
    return seed_cluster()


def _answer(**over):
    answer = {
        "products": [{"name": "apple", "price": 1}, {"name": "banana"}, {"name": "cherry"}],
        "business_manager": {"pod": "business-manager-666f454f7f-zxmsx", "ip": "172.30.9.3", "node": "node2"},
        "data_product": {"pod": "data-product-6664c6dcb9-4zk27", "ip": "172.30.76.5", "node": "node1"},
        "caller": {"ip": "172.30.76.2"},
    }
    answer.update(over)
    return answer


def test_applies_to_the_seed(seed):
    assert walkthrough.applies(seed)


def test_does_not_apply_to_the_platform_alone():
    assert not walkthrough.applies(platform())


@pytest.mark.parametrize("break_it", [
    lambda c: setattr(c, "hosts", [h for h in c.hosts if h.name != "client"]),
    lambda c: setattr(c, "nodes", []),
    lambda c: setattr(c, "ingresses", []),
    lambda c: setattr(c.ingresses[0], "rules", [IngressRule("shop.example")]),
    lambda c: setattr(c, "services", [s for s in c.services if s.name != "ingress-nginx"]),
])
def test_does_not_apply_without_one_of_the_pieces(break_it):
    c = seed_cluster()
    break_it(c)
    assert not walkthrough.applies(c)


def test_command_is_the_walkthroughs_curl():
    assert walkthrough.command("192.168.0.21") == \
        "curl -s -H 'Host: business-manager.default' http://192.168.0.21:30799/api/v1/product/list"


def test_path_through_the_seed(seed):
    assert walkthrough.path(seed, NODE1, _answer()).split("\n") == [
        "  client 192.168.0.100",
        "    -> node1 192.168.0.21:30799 (NodePort)",
        "    -> nginx-ingress-controller-546bfbff9-hpwsz 172.30.76.2 (ingress nginx)",
        "    -> business-manager 10.254.80.22:80 (Service)",
        "    -> business-manager-666f454f7f-zxmsx 172.30.9.3 on node2",
        "    -> data-product 10.254.116.224:50051 (Service, by DNS name)",
        "    -> data-product-6664c6dcb9-4zk27 172.30.76.5 on node1",
        "    -> mysql 10.254.84.209:3306 (Service, Endpoints by hand) -> db 192.168.0.103",
        "  answer: 3 products (apple, banana, cherry)",
    ]


def test_path_names_the_node_the_request_was_sent_to(seed):
    text = walkthrough.path(seed, NODE2, _answer())
    assert text.splitlines()[1] == "    -> node2 192.168.0.22:30799 (NodePort)"


def test_path_shows_addresses_it_cannot_name(seed):
    lines = walkthrough.path(seed, "192.168.0.99", _answer(caller={"ip": "10.9.9.9"})).splitlines()
    assert lines[1] == "    -> 192.168.0.99 192.168.0.99:30799 (NodePort)"
    assert lines[2] == "    -> 10.9.9.9 10.9.9.9 (ingress nginx)"


def test_path_without_a_caller_shows_a_question_mark(seed):
    answer = _answer()
    del answer["caller"]
    assert walkthrough.path(seed, NODE1, answer).splitlines()[2] == "    -> ? ? (ingress nginx)"


def test_path_leaves_out_services_the_cluster_does_not_have():
    c = platform()
    c.hosts.append(Host("db", "192.168.0.103"))
    answer = _answer(products=[{"name": "pear"}])
    assert walkthrough.path(c, NODE1, answer).split("\n") == [
        "  client 192.168.0.100",
        "    -> node1 192.168.0.21:30799 (NodePort)",
        "    -> nginx-ingress-controller-546bfbff9-hpwsz 172.30.76.2 (ingress nginx)",
        "    -> business-manager-666f454f7f-zxmsx 172.30.9.3 on node2",
        "    -> data-product-6664c6dcb9-4zk27 172.30.76.5 on node1",
        "  answer: 1 product (pear)",
    ]


def test_path_leaves_out_mysql_without_the_db_host():
    c = seed_cluster()
    c.hosts = [h for h in c.hosts if h.name != "db"]
    text = walkthrough.path(c, NODE1, _answer())
    assert "mysql" not in text
    assert text.splitlines()[-2] == "    -> data-product-6664c6dcb9-4zk27 172.30.76.5 on node1"


def test_path_uses_only_default_namespace_services(seed):
    c = seed_cluster()
    for s in c.services:
        if s.name == "business-manager":
            s.namespace = "other"
    assert "(Service)\n" not in walkthrough.path(c, NODE1, _answer())


@pytest.mark.parametrize("caller,where", [("172.30.76.1", "node1's docker0"), ("172.30.76.0", "node1's flannel.1")])
def test_path_names_the_ingress_pod_when_kube_proxy_masqueraded_its_call(seed, caller, where):
    """The seed's kube-proxy masquerades pods' traffic to cluster IPs (its --cluster-cidr is the
    service network), so business-manager sees a node's address, not the ingress pod's."""
    lines = walkthrough.path(seed, NODE1, _answer(caller={"ip": caller})).splitlines()
    assert lines[2] == "    -> nginx-ingress-controller-546bfbff9-hpwsz 172.30.76.2 (ingress nginx)"
    assert lines[4] == f"    -> business-manager-666f454f7f-zxmsx 172.30.9.3 on node2 (called from {caller}, {where}: " \
                       "masqueraded by kube-proxy)"
