"""netlab graph: the seed cluster's DOT (golden), highlighting, escaping, rendering's one-line errors."""
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

import golden_files

from netlab import graph
from netlab.errors import NetlabError
from netlab.model.control_plane import admit
from netlab.model.objects import (
    Cluster, EndpointAddress, EndpointPort, Endpoints, Host, Node, Pod, Service, ServicePort,
)
from netlab.model.seed import seed_cluster

GOLDEN = Path(__file__).parent / "golden"
POD = "pod:default/business-manager-666f454f7f-7l86b"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def seed() -> Cluster:
    return admit(seed_cluster("seed", 0.0), 0.0)      # Endpoints as the lab's record holds them


def line_of(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(start))


def test_the_seed_cluster_golden_dot():
    golden_files.check(GOLDEN / "graph" / "seed.dot", graph.dot(seed()))


def test_the_seed_figure_names_every_device_pod_host_and_service():
    c = seed()
    text = graph.dot(c)
    for n in c.nodes:
        for dev in ("eth0", "docker0", "flannel.1"):
            assert f'"dev:{n.name}:{dev}" [id=' in text
        assert f'id="node:{n.name}"' in text
    for p in c.pods:
        assert f'"pod:{p.namespace}/{p.name}" [id=' in text and p.ip in text
    for s in c.services:
        assert f'"svc:{s.namespace}/{s.name}" [id=' in text
    for h in ("router", "client", "db"):
        assert f'"host:{h}" [id=' in text
    assert "172.30.76.0/32" in text and "172.30.9.0/32" in text
    assert "VXLAN VNI 1, UDP 8472" in line_of(text, '"dev:node1:flannel.1" -> "dev:node2:flannel.1"')
    # a selector-less Service points at the outside host its hand-written Endpoints name
    assert '"svc:default/mysql" -> "host:db"' in text
    # the API's Service points at the first node, where the API server listens in the lab
    assert "no endpoints" not in line_of(text, '"svc:default/kubernetes" [id=')
    assert ":6443" in line_of(text, '"svc:default/kubernetes" -> "dev:node1:eth0"')


def test_the_vtep_mac_is_the_one_flannel_programs():
    from netlab.flannel.lease import lease_of
    c = seed()
    text = graph.dot(c)
    for n in c.nodes:
        assert lease_of(c, n).vtep_mac in line_of(text, f'"dev:{n.name}:flannel.1" [id=')


def test_nothing_is_red_without_a_highlight():
    assert "#d62728" not in graph.dot(seed())


def test_a_highlighted_node_and_pod_are_drawn_red():
    text = graph.dot(seed(), ["node:node2", POD])
    assert graph.HIGHLIGHT in line_of(text, 'graph [id="node:node2"')
    assert graph.HIGHLIGHT in line_of(text, f'"{POD}" [id=')
    assert graph.HIGHLIGHT not in line_of(text, 'graph [id="node:node1"')


def test_a_drawn_edge_is_highlighted_either_way_round():
    text = graph.dot(seed(), [f"dev:node1:docker0->{POD}", "dev:node2:flannel.1->dev:node1:flannel.1"])
    assert graph.HIGHLIGHT in line_of(text, f'"{POD}" -> "dev:node1:docker0"')
    assert graph.HIGHLIGHT in line_of(text, '"dev:node1:flannel.1" -> "dev:node2:flannel.1"')
    assert text.count(graph.HIGHLIGHT) == 2          # no extra edge for either


def test_an_edge_between_hops_that_is_not_drawn_is_added_in_red():
    plain = graph.dot(seed())
    text = graph.dot(seed(), ["dev:node1:docker0->dev:node1:eth0", "host:client->node:node1", "host:nowhere->underlay"])
    assert '"dev:node1:docker0" -> "dev:node1:eth0"' not in plain
    added = line_of(text, '"dev:node1:docker0" -> "dev:node1:eth0"')
    assert graph.HIGHLIGHT in added and "constraint=false" in added
    # a node's box: the edge is clipped at the box, from a device inside it; its id says what it joins
    to_box = line_of(text, '"host:client" -> "dev:node1:eth0"')
    assert 'id="host:client->node:node1"' in to_box and 'lhead="cluster_node_0"' in to_box
    assert "nowhere" not in text                     # an id the cluster does not hold is left out


def test_labels_and_ids_with_quotes_and_backslashes_are_escaped():
    c = Cluster(name='la"b', nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24")],
                hosts=[Host('cl"ient\\', "192.168.0.100")],
                pods=[Pod('we"b\\x', "default", "node1", "172.30.76.2")],
                services=[Service('sv"c', "default", cluster_ip="10.254.0.10", ports=[ServicePort(80, "", "TCP", 80)])],
                endpoints=[Endpoints('sv"c', "default", [EndpointAddress("172.30.76.2", "node1", 'we"b\\x')],
                                     [EndpointPort(80)])])
    text = graph.dot(c, ['pod:default/we"b\\x'])
    assert r'"pod:default/we\"b\\x" [id="pod:default/we\"b\\x", label="we\"b\\x\n172.30.76.2"' in text
    assert r'"host:cl\"ient\\" [id=' in text
    assert r'"svc:default/sv\"c" -> "pod:default/we\"b\\x"' in text
    assert graph.q("a\nb") == r'"a\nb"'                  # a line break is DOT's, the text's own escaped
    if shutil.which("dot"):
        svg = graph.render(text, "svg").decode()
        ElementTree.fromstring(svg)
        assert "we&quot;b\\x" in svg or 'we"b\\x' in svg


@needs_dot
def test_the_seed_svg_carries_the_ids():
    svg = graph.render(graph.dot(seed(), [POD]), "svg")
    root = ElementTree.fromstring(svg)
    ids = {e.get("id") for e in root.iter()}
    assert {POD, "node:node1", "dev:node2:flannel.1", "underlay", "svc:default/mysql->host:db"} <= ids


def test_rendering_errors_are_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NetlabError, match="Graphviz's dot is not installed"):
        graph.render("digraph {}", "svg")


@needs_dot
def test_what_dot_refuses_is_one_line():
    with pytest.raises(NetlabError, match=r"graph: dot -Tsvg failed: .*syntax error") as e:
        graph.render("digraph { a -> }", "svg")
    assert "\n" not in str(e.value)


def test_the_cli_refuses_another_suffix_before_reading_the_lab():
    from netlab import cli
    args = cli.parser().parse_args(["graph", "-o", "figure.pdf"])
    with pytest.raises(NetlabError, match=r"must end in \.svg, \.png or \.dot"):
        cli.cmd_graph(args)

