"""NetworkPolicy: manifests in, the evaluator's meaning, the enforcer's rules (golden), and the
rules against the evaluator on random clusters and policies (walked by netlab.trace.walk)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

import golden_files
from netlab.errors import ModelError
from netlab.kube_proxy.rules import to_text
from netlab.kube_proxy.rules import Table
from netlab.model import manifests, selectors, store
from netlab.model.objects import (
    Cluster, IPBlock, LabelSelector, NetworkPolicy, Node, Pod, PolicyPeer, PolicyPort, PolicyRule, Requirement,
)
from netlab.policy import evaluate, ipsets, names, rules
from netlab.trace.walk import Packet, walk

GOLDEN = Path(__file__).parent / "golden" / "policy"


def policy(text: str) -> NetworkPolicy:
    doc = yaml.safe_load(text)
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **doc}
    m = manifests.parse_document(doc, "np.yaml: document 1")
    assert m is not None and not m.warnings, m and m.warnings
    return m.obj


def pod(name, ns, node, ip, ports=None, **labels) -> Pod:
    return Pod(name, ns, node, ip, labels, container_ports=ports or {})


def small_cluster(*policies: NetworkPolicy) -> Cluster:
    c = Cluster(name="t", policy="enforce",
                nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24"), Node("node2", "192.168.0.22", "172.30.9.0/24")])
    c.pods = [pod("a", "x", "node1", "172.30.76.2", {"serve-80-tcp": 80, "dns": 53}, pod="a", tier="web"),
              pod("b", "x", "node1", "172.30.76.3", {"serve-81-tcp": 81}, pod="b", tier="db"),
              pod("a", "y", "node2", "172.30.9.2", {"serve-80-tcp": 8080}, pod="a"),
              pod("c", "z", "node2", "172.30.9.3", {}, pod="c", tier="web")]
    c.namespaces = ["x", "y", "z"]
    c.namespace_labels = {"x": {"team": "blue"}, "y": {"team": "red"}}
    c.network_policies = list(policies)
    return c


# ---------------------------------------------------------------- manifests

def test_policy_types_default_as_the_api_server_sets_them():
    assert policy("metadata: {name: p}\nspec: {podSelector: {}}").policy_types == ["Ingress"]
    p = policy("metadata: {name: p}\nspec: {podSelector: {}, egress: [{}]}")
    assert p.policy_types == ["Ingress", "Egress"]
    assert policy("metadata: {name: p}\nspec: {podSelector: {}, policyTypes: [Egress]}").policy_types == ["Egress"]


def test_empty_rule_lists_and_empty_rules_keep_their_meanings():
    deny = policy("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}")
    allow = policy("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{}]}")
    c = small_cluster(deny)
    a, b = (evaluate.Party.of(p) for p in c.pods[:2])
    assert not evaluate.allowed(c, b, a, "TCP", 80)
    c.network_policies = [allow]
    assert evaluate.allowed(c, b, a, "TCP", 80)


def test_a_full_policy_reads_every_field():
    p = policy("""
metadata: {name: full, namespace: x, labels: {k: v}}
spec:
  podSelector:
    matchLabels: {tier: db}
    matchExpressions: [{key: pod, operator: In, values: [b, c]}, {key: gone, operator: DoesNotExist}]
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {tier: web}}
      namespaceSelector: {matchLabels: {team: blue}}
    - namespaceSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: 80}, {protocol: UDP, port: 53, endPort: 60}, {port: serve-81-tcp}, {protocol: SCTP}]
  egress:
  - to: [{podSelector: {}}]
""")
    assert p.namespace == "x" and p.labels == {"k": "v"}
    assert p.pod_selector == LabelSelector({"tier": "db"}, [Requirement("pod", "In", ["b", "c"]),
                                                            Requirement("gone", "DoesNotExist", [])])
    peers = p.ingress[0].peers
    assert peers[0] == PolicyPeer(LabelSelector({"tier": "web"}), LabelSelector({"team": "blue"}))
    assert peers[1] == PolicyPeer(None, LabelSelector())
    assert peers[2] == PolicyPeer(ip_block=IPBlock("10.0.0.0/8", ["10.1.0.0/16"]))
    assert p.ingress[0].ports == [PolicyPort("TCP", 80), PolicyPort("UDP", 53, 60), PolicyPort("TCP", "serve-81-tcp"),
                                  PolicyPort("SCTP")]
    assert p.egress == [PolicyRule([PolicyPeer(LabelSelector())], [])]
    assert NetworkPolicy(**Cluster(network_policies=[p]).to_dict()["network_policies"][0]) == p


@pytest.mark.parametrize("spec, message", [
    ("{}", "spec.podSelector: required field is missing"),
    ("{podSelector: {}, policyTypes: [Sideways]}", "spec.policyTypes[0]: 'Sideways' is not one of Ingress, Egress"),
    ("{podSelector: {matchExpressions: [{key: a, operator: In}]}}",
     "spec.podSelector.matchExpressions[0].values: must be specified when operator is In"),
    ("{podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}",
     "values: may not be specified when operator is Exists"),
    ("{podSelector: {matchExpressions: [{key: a, operator: Is, values: [x]}]}}",
     "operator: 'Is' is not one of In, NotIn, Exists, DoesNotExist"),
    ("{podSelector: {matchLabels: {'-bad': x}}}", "spec.podSelector.matchLabels: '-bad' is not a valid label key"),
    ("{podSelector: {}, ingress: [{from: [{}]}]}",
     "spec.ingress[0].from[0]: must give podSelector, namespaceSelector or ipBlock"),
    ("{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}",
     "ipBlock may not be combined with podSelector or namespaceSelector"),
    ("{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.1/8}}]}]}",
     "spec.ingress[0].from[0].ipBlock.cidr: '10.0.0.1/8' is not a valid CIDR"),
    ("{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}",
     "ipBlock.except[0]: '11.0.0.0/16' must be within the cidr 10.0.0.0/8"),
    ("{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 'fd00::/8'}}]}]}", "is not an IPv4 CIDR"),
    ("{podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}", "ports[0].protocol: 'ICMP' is not one of TCP"),
    ("{podSelector: {}, ingress: [{ports: [{port: 0}]}]}", "ports[0].port: 0 must be between 1 and 65535"),
    ("{podSelector: {}, ingress: [{ports: [{port: Web_Port}]}]}", "ports[0].port: 'Web_Port' is not a valid port name"),
    ("{podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}",
     "ports[0].endPort: may only be given with a numeric port"),
    ("{podSelector: {}, ingress: [{ports: [{port: 90, endPort: 80}]}]}",
     "ports[0].endPort: 80 must be greater than or equal to port 90"),
    ("{podSelector: {}, egress: [{to: [{ipBlock: {}}]}]}", "spec.egress[0].to[0].ipBlock.cidr: required field"),
])
def test_bad_policies_are_one_line_naming_file_and_field(spec, message):
    with pytest.raises(ModelError, match="^np.yaml: document 1: ") as e:
        policy(f"metadata: {{name: p}}\nspec: {spec}")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unknown_fields_are_warned_about():
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
           "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}, "sideways": 1}]}]}}
    m = manifests.parse_document(doc, "np.yaml: document 1")
    assert m.warnings == ["np.yaml: document 1: spec.ingress[0].from[0].sideways is not implemented by netlab "
                          "and was ignored"]


def test_namespaces_carry_their_labels_and_their_name_label():
    c = small_cluster()
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w", "labels": {"team": "green"}}}
    m = manifests.parse_document(doc, "ns.yaml: document 1")
    before = store.snapshot(c, [m])
    store.apply(c, [m])
    assert c.namespace_labels_of("w") == {"team": "green", "kubernetes.io/metadata.name": "w"}
    assert store.outcomes(before, c, [m]) == ["created"]
    assert c.namespace_labels_of("z") == {"kubernetes.io/metadata.name": "z"}        # made by use
    relabelled = manifests.parse_document({**doc, "metadata": {"name": "w"}}, "ns.yaml: document 1")
    before = store.snapshot(c, [relabelled])
    store.apply(c, [relabelled])
    assert store.outcomes(before, c, [relabelled]) == ["configured"]
    assert c.namespace_labels_of("w") == {"kubernetes.io/metadata.name": "w"}


# ---------------------------------------------------------------- selectors and the evaluator

@pytest.mark.parametrize("sel, labels, expected", [
    (LabelSelector(), {}, True),
    (LabelSelector({"a": "1"}), {"a": "1", "b": "2"}, True),
    (LabelSelector({"a": "1"}), {"a": "2"}, False),
    (LabelSelector(match_expressions=[Requirement("a", "In", ["1", "2"])]), {"a": "2"}, True),
    (LabelSelector(match_expressions=[Requirement("a", "In", ["1"])]), {}, False),
    (LabelSelector(match_expressions=[Requirement("a", "NotIn", ["1"])]), {}, True),
    (LabelSelector(match_expressions=[Requirement("a", "NotIn", ["1"])]), {"a": "1"}, False),
    (LabelSelector(match_expressions=[Requirement("a", "Exists")]), {"a": ""}, True),
    (LabelSelector(match_expressions=[Requirement("a", "DoesNotExist")]), {"a": ""}, False),
])
def test_selectors_match_as_the_api_defines(sel, labels, expected):
    assert selectors.matches(sel, labels) is expected


def test_selector_text_is_kubectls():
    sel = LabelSelector({"tier": "db"}, [Requirement("pod", "NotIn", ["c", "b"]), Requirement("gone", "DoesNotExist")])
    assert selectors.text(sel) == "!gone,pod notin (b,c),tier=db"
    assert selectors.text(LabelSelector()) == "<none>"


def _parties(c):
    return {f"{p.namespace}/{p.name}": evaluate.Party.of(p) for p in c.pods}


def test_pod_and_namespace_selectors_in_one_peer_are_anded_in_two_peers_ored():
    head = "metadata: {name: p, namespace: x}\nspec: {podSelector: {matchLabels: {pod: a}}, ingress: "
    web, red = "podSelector: {matchLabels: {tier: web}}", "namespaceSelector: {matchLabels: {team: red}}"
    both = policy(head + f"[{{from: [{{{web}, {red}}}]}}]}}")
    either = policy(head + f"[{{from: [{{{web}}}, {{{red}}}]}}]}}")
    c = small_cluster(both)
    p = _parties(c)
    # z/c is a web pod in a namespace without team=red; y/a is in team red without tier=web
    assert [evaluate.allowed(c, p[s], p["x/a"], "TCP", 80) for s in ("y/a", "z/c", "x/b")] == [False, False, False]
    c.network_policies = [either]
    # tier=web alone counts in the policy's own namespace x only; team=red picks y/a
    assert [evaluate.allowed(c, p[s], p["x/a"], "TCP", 80) for s in ("y/a", "z/c", "x/b")] == [True, False, False]


def test_named_ports_are_the_destination_pods_own():
    np = policy("metadata: {name: p, namespace: y}\n"
                "spec: {podSelector: {}, ingress: [{ports: [{port: serve-80-tcp}]}]}")
    c = small_cluster(np)
    p = _parties(c)
    assert evaluate.allowed(c, p["x/a"], p["y/a"], "TCP", 8080)      # y/a names 8080 serve-80-tcp
    assert not evaluate.allowed(c, p["x/a"], p["y/a"], "TCP", 80)


def test_a_pod_reaches_itself_and_its_node_reaches_it_whatever_the_policies():
    c = small_cluster(policy("metadata: {name: p, namespace: x}\n"
                             "spec: {podSelector: {}, policyTypes: [Ingress, Egress]}"))
    p = _parties(c)
    assert evaluate.allowed(c, p["x/a"], p["x/a"], "TCP", 80)
    assert evaluate.allowed(c, evaluate.Party("172.30.76.1"), p["x/a"], "TCP", 80)      # node1's docker0
    assert not evaluate.allowed(c, evaluate.Party("172.30.9.1"), p["x/a"], "TCP", 80)   # node2's
    assert not evaluate.allowed(c, p["x/a"], p["x/b"], "TCP", 80)


# ---------------------------------------------------------------- the rules (golden)

CASES = {
    "deny-all-ingress": "metadata: {name: deny, namespace: x}\nspec: {podSelector: {}}",
    "match-labels-and-expressions": """
metadata: {name: db, namespace: x}
spec:
  podSelector: {matchLabels: {tier: db}}
  ingress:
  - from:
    - podSelector:
        matchLabels: {tier: web}
        matchExpressions: [{key: pod, operator: NotIn, values: [b]}, {key: pod, operator: Exists}]""",
    "namespace-selector": """
metadata: {name: from-red, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]""",
    "and-versus-or": """
metadata: {name: and-or, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {tier: web}}, namespaceSelector: {}}]
  - from: [{podSelector: {matchLabels: {tier: web}}}, {namespaceSelector: {}}]""",
    "ip-block-except": """
metadata: {name: outside, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [172.30.0.0/16, 192.168.0.103/32]}}]""",
    "ports": """
metadata: {name: ports, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80}, {port: 8000, endPort: 8100}, {protocol: UDP, port: 53}, {protocol: SCTP, port: 9},
            {port: serve-80-tcp}, {protocol: UDP}]""",
    "egress-dns-only": """
metadata: {name: dns-only, namespace: y}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}, podSelector: {matchLabels: {pod: a}}}]
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: dns}]""",
}


def node_text(c: Cluster, node: str) -> str:
    np = rules.build(c, node)
    table = Table("filter", np.jumps, np.chains)
    chains = to_text({"nat": Table("nat"), "filter": table}).split("COMMIT\n", 1)[1]
    return chains + ipsets.plan({}, np.sets)[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_rules_golden(case):
    c = small_cluster(policy(CASES[case]))
    text = "".join(f"# {n.name}\n{node_text(c, n.name)}" for n in c.nodes)
    golden_files.check(GOLDEN / f"{case}.rules", text)


def test_without_enforcement_there_is_nothing():
    c = small_cluster(policy(CASES["deny-all-ingress"]))
    c.policy = "none"
    assert rules.build(c, "node1") == rules.NodePolicy()


def test_names_fit_iptables_and_ipset_limits():
    long = NetworkPolicy("a" * 63, "b" * 63)
    chain = names.policy_chain(long, "Ingress")
    assert len(chain) == 28 and chain.startswith("cali-pi-_")
    assert names.pod_chain("veth0123abcd", "Egress") == "cali-fw-veth0123abcd"
    assert len(names.ipset("s", "anything")) == 31


def test_ipset_plan_adds_and_deletes_in_place_and_destroys_after():
    have = {"cali40s:a": rules.IPSet("cali40s:a", "hash:ip", ["1.1.1.1", "2.2.2.2"]),
            "cali40s:gone": rules.IPSet("cali40s:gone", "hash:ip", [])}
    want = {"cali40s:a": rules.IPSet("cali40s:a", "hash:ip", ["2.2.2.2", "3.3.3.3"]),
            "cali40s:n": rules.IPSet("cali40s:n", "hash:net", ["10.0.0.0/8", "10.1.0.0/16 nomatch"])}
    before, after = ipsets.plan(have, want)
    assert before.splitlines() == ["del cali40s:a 1.1.1.1", "add cali40s:a 3.3.3.3",
                                   "create cali40s:n hash:net family inet", "add cali40s:n 10.0.0.0/8",
                                   "add cali40s:n 10.1.0.0/16 nomatch"]
    assert after == "destroy cali40s:gone\n"
    saved = "create cali40s:a hash:ip family inet hashsize 1024\nadd cali40s:a 1.1.1.1\ncreate other hash:ip\n"
    assert ipsets.parse_save(saved) == {"cali40s:a": rules.IPSet("cali40s:a", "hash:ip", ["1.1.1.1"])}


# ---------------------------------------------------------------- rules against the evaluator

LABELS = {"app": ["web", "db", "api"], "tier": ["front", "back"], "pod": ["a", "b", "c"]}


def _selector(r: random.Random) -> LabelSelector:
    keys = r.sample(sorted(LABELS), r.randint(0, 2))
    labels = {k: r.choice(LABELS[k]) for k in keys[:1]}
    exprs = []
    for k in keys[1:]:
        op = r.choice(["In", "NotIn", "Exists", "DoesNotExist"])
        exprs.append(Requirement(k, op, r.sample(LABELS[k], 2) if op in ("In", "NotIn") else []))
    return LabelSelector(labels, exprs)


def _peer(r: random.Random, c: Cluster) -> PolicyPeer:
    kind = r.choice(["pod", "ns", "both", "ip"])
    if kind == "ip":
        base = r.choice(c.pods).ip.rsplit(".", 1)[0]
        return PolicyPeer(ip_block=IPBlock(r.choice([f"{base}.0/24", "172.30.0.0/16", "0.0.0.0/0"]),
                                           r.choice([[], [f"{r.choice(c.pods).ip}/32"]])
                                           if base else []))
    return PolicyPeer(_selector(r) if kind in ("pod", "both") else None,
                      LabelSelector({"team": r.choice(["blue", "red"])}) if kind in ("ns", "both") else None)


def _port(r: random.Random) -> PolicyPort:
    kind = r.choice(["number", "range", "named", "protocol"])
    proto = r.choice(["TCP", "UDP"])
    if kind == "number":
        return PolicyPort(proto, r.choice([80, 81]))
    if kind == "range":
        return PolicyPort(proto, 80, 81)
    if kind == "named":
        return PolicyPort(proto, r.choice(["web", "alt"]))
    return PolicyPort(proto)


def random_cluster(seed: int) -> Cluster:
    r = random.Random(seed)
    c = Cluster(name="r", policy="enforce", nodes=[Node(f"node{i}", f"192.168.0.{20 + i}", f"172.30.{i}.0/24")
                                                   for i in (1, 2, 3)][:r.randint(1, 3)])
    c.namespaces = ["x", "y", "z"]
    c.namespace_labels = {ns: {"team": r.choice(["blue", "red"])} for ns in c.namespaces if r.random() < 0.8}
    for i in range(r.randint(2, 7)):
        node = r.choice(c.nodes)
        ports = {name: r.choice([80, 81]) for name in ("web", "alt") if r.random() < 0.5}
        labels = {k: r.choice(v) for k, v in LABELS.items() if r.random() < 0.6}
        c.pods.append(Pod(f"p{i}", r.choice(c.namespaces), node.name, f"172.30.{node.name[-1]}.{10 + i}", labels,
                          container_ports=ports))
    for i in range(r.randint(1, 4)):
        types = r.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])

        def rule_list():
            return [PolicyRule([_peer(r, c) for _ in range(r.randint(0, 2))],
                               [_port(r) for _ in range(r.randint(0, 2))])
                    for _ in range(r.randint(0, 2))]
        c.network_policies.append(NetworkPolicy(f"np{i}", r.choice(c.namespaces), _selector(r), types,
                                                rule_list(), rule_list()))
    return c


def kernel_verdict(c: Cluster, src: Pod, dst: Pod, protocol: str, port: int) -> bool:
    """Through the rules of every node the packet crosses: the source's, then the destination's."""
    built = {n.name: rules.build(c, n.name) for n in c.nodes}
    hops = [(src.node, "docker0", "docker0")] if src.node == dst.node else \
        [(src.node, "docker0", "flannel.1"), (dst.node, "flannel.1", "docker0")]
    for node, in_dev, out_dev in hops:
        np = built[node]
        chains = {**np.chains, **np.jumps}
        packet = Packet(src.ip, dst.ip, protocol.lower(), port, in_dev, out_dev,
                        sets={s.name: s.members for s in np.sets.values()})
        if walk(chains, "FORWARD", packet).verdict == "DROP":
            return False
    return True


@pytest.mark.parametrize("seed", range(300))
def test_rules_agree_with_the_evaluator_on_random_clusters(seed):
    c = random_cluster(seed)
    for src in c.pods:
        for dst in c.pods:
            if src is dst:
                continue
            for protocol, port in (("TCP", 80), ("UDP", 81), ("TCP", 443)):
                want = evaluate.allowed(c, evaluate.Party.of(src), evaluate.Party.of(dst), protocol, port)
                got = kernel_verdict(c, src, dst, protocol, port)
                assert got == want, (f"seed {seed}: {src.namespace}/{src.name} -> {dst.namespace}/{dst.name} "
                                     f"{protocol}/{port}: rules say {got}, the evaluator {want}")


# ---------------------------------------------------------------- where the mode is set, what is printed

NODES = [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.76.0/24"}]


def test_a_topology_file_says_whether_policies_are_enforced():
    from netlab.model import topology
    assert topology.parse({"nodes": NODES}).policy == "none"
    assert topology.parse({"nodes": NODES, "policy": "enforce"}).policy == "enforce"
    with pytest.raises(ModelError, match=r"^policy: 'strict' is not one of none, enforce$"):
        topology.parse({"nodes": NODES, "policy": "strict"})


def test_up_takes_the_mode():
    from netlab.cli import parser
    assert parser().parse_args(["up", "--policy", "enforce"]).policy == "enforce"
    assert parser().parse_args(["up"]).policy is None


def test_get_networkpolicies_prints_as_kubectl():
    from netlab import output
    p = policy(CASES["match-labels-and-expressions"])
    p.created = 1000.0
    rows = output.networkpolicy_rows([p], all_ns=True, now=1000.0 + 3 * 3600)
    assert rows.splitlines() == ["NAMESPACE   NAME   POD-SELECTOR   AGE", "x           db     tier=db        3h"]
    obj = output.networkpolicy_object(p)
    assert obj["spec"] == {"podSelector": {"matchLabels": {"tier": "db"}}, "policyTypes": ["Ingress"],
                           "ingress": [{"from": [{"podSelector": {
                               "matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["b"]},
                                                    {"key": "pod", "operator": "Exists"}],
                               "matchLabels": {"tier": "web"}}}]}]}
    again = manifests.parse_document(obj, "round trip")
    assert again.obj.pod_selector == p.pod_selector and again.obj.ingress == p.ingress
