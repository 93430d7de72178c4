"""NetworkPolicy on the real kernel, the way Kubernetes' e2e netpol suite proves it: namespaces
x, y, z with pods a, b, c over two nodes (examples/networkpolicy/lab.yaml); for each case every
pod pair is probed with real connections and the matrix must equal the evaluator's. With
`policy: none` (flannel alone) every case probes fully open."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import yaml

from helpers import leftovers, sh, unique

from netlab import layout, reachability
from netlab.lab import Lab
from netlab.model import manifests, store
from netlab.model.seed import platform
from netlab.policy import evaluate
from netlab.probe import reach
from netlab.state import LabDir

EXAMPLES = Path(__file__).parents[2] / "examples" / "networkpolicy"
TCP80 = [("TCP", 80)]


def xyz(name: str, policy: str):
    c = platform(name, time.time())
    store.apply(c, manifests.load(EXAMPLES / "lab.yaml"))
    c.policy = policy
    return c


def _lab(policy: str):
    name = unique("np")
    lab = Lab.up(xyz(name, policy))
    try:
        yield lab
    finally:
        if LabDir(name).exists():
            lab.down()
        assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


@pytest.fixture(scope="module")
def enforcing():
    yield from _lab("enforce")


@pytest.fixture(scope="module")
def flannel_only():
    yield from _lab("none")


def docs(text: str) -> list:
    return [manifests.parse_document(d, f"case: document {i}")
            for i, d in enumerate(yaml.safe_load_all(text), 1) if d is not None]


def apply(lab: Lab, text: str) -> None:
    items = docs(text)
    lab.update(lambda c: store.apply(c, items))


def remove_policies(lab: Lab) -> None:
    lab.update(lambda c: setattr(c, "network_policies", []))


def suite_pods(c):
    return sorted((p for p in c.pods if p.labels.get("suite") == "netpol"), key=lambda p: (p.namespace, p.name))


def probe(lab: Lab, ports, hosts: tuple[str, ...] = ()) -> list[reachability.Matrix]:
    c = lab.cluster()
    pods = [reach.Endpoint(f"{p.namespace}/{p.name}", layout.pod_ns(c.name, p), p.ip) for p in suite_pods(c)]
    targets = pods + [reach.Endpoint(h.name, layout.host_ns(c.name, h.name), h.ip) for h in c.hosts if h.name in hosts]
    found = reach.probe(pods, targets, ports, timeout=1.0)
    reach.forget_udp_flows([layout.node_ns(c.name, n.name) for n in c.nodes], reach.udp_flows(pods, targets, ports))
    return found


def evaluated(c, observed: reachability.Matrix) -> reachability.Matrix:
    parties = {f"{p.namespace}/{p.name}": evaluate.Party.of(p) for p in c.pods}
    parties.update({h.name: evaluate.Party(h.ip) for h in c.hosts})
    return reachability.Matrix(observed.protocol, observed.port, observed.froms, observed.tos,
                               {(f, t): evaluate.allowed(c, parties[f], parties[t], observed.protocol, observed.port)
                                for f in observed.froms for t in observed.tos})


def check(lab: Lab, ports, hosts=()) -> list[reachability.Matrix]:
    """The probed matrices equal the evaluator's; returns them."""
    c = lab.cluster()
    found = probe(lab, ports, hosts)
    for m in found:
        want = evaluated(c, m)
        assert m.allowed == want.allowed, (f"{reachability.probe_name(m)}: the kernel and the evaluator differ\n"
                                          + "\n".join(reachability.differences(want, m))
                                          + "\nobserved:\n" + reachability.pretty(m))
    return found


def blocked(m: reachability.Matrix) -> int:
    return sum(not v for v in m.allowed.values())


def policy(name: str, ns: str, spec: str) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\n" \
           f"spec: {spec}\n---\n"


KUBE_DNS = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}"
# name -> (manifests, probed ports); modelled on test/e2e/network/netpol/network_policy.go
CASES = {
    "deny-all-ingress": (policy("deny", "x", "{podSelector: {}}"), TCP80),
    "deny-all-ingress-and-egress": (policy("deny", "x", "{podSelector: {}, policyTypes: [Ingress, Egress]}"), TCP80),
    "allow-from-same-namespace": (policy("same", "x", "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}"),
                                  TCP80),
    "allow-ingress-for-a-target": (policy("target", "x", "{podSelector: {matchLabels: {pod: a}}, ingress: "
                                                       "[{from: [{podSelector: {matchLabels: {pod: b}}}]}]}"), TCP80),
    "allow-from-all-namespaces": (policy("all-ns", "x", "{podSelector: {}, ingress: [{from: "
                                                       "[{namespaceSelector: {}}]}]}"), TCP80),
    "allow-from-namespace-by-label": (policy("from-y", "x", "{podSelector: {}, ingress: [{from: "
                                                           "[{namespaceSelector: {matchLabels: {ns: y}}}]}]}"), TCP80),
    "pod-selector-match-expressions": (policy("expr", "x", "{podSelector: {}, ingress: [{from: [{podSelector: "
                                                           "{matchExpressions: [{key: pod, operator: In, "
                                                           "values: [b, c]}]}}]}]}"),
                                       TCP80),
    "namespace-selector-match-expressions": (policy("ns-expr", "x", "{podSelector: {}, ingress: [{from: "
                                                                    "[{namespaceSelector: {matchExpressions: "
                                                                    "[{key: ns, operator: NotIn, "
                                                                    "values: [x, y]}]}}]}]}"),
                                             TCP80),
    "pod-and-namespace-selector": (policy("and", "x", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
                                                      "[{podSelector: {matchLabels: {pod: b}}, namespaceSelector: "
                                                      "{matchLabels: {ns: y}}}]}]}"), TCP80),
    "pod-or-namespace-selector": (policy("or", "x", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
                                                    "[{podSelector: {matchLabels: {pod: b}}}, {namespaceSelector: "
                                                    "{matchLabels: {ns: y}}}]}]}"), TCP80),
    "ports": (policy("port-81", "x", "{podSelector: {}, ingress: [{ports: [{port: 81}]}]}"),
              [("TCP", 80), ("TCP", 81)]),
    "named-port": (policy("named", "x", "{podSelector: {}, ingress: [{ports: [{port: serve-81-tcp}]}]}"),
                   [("TCP", 80), ("TCP", 81)]),
    "end-port": (policy("range", "x", "{podSelector: {}, ingress: [{ports: [{port: 81, endPort: 90}]}]}"),
                 [("TCP", 80), ("TCP", 81)]),
    "udp-only-is-not-tcp": (policy("udp", "x", "{podSelector: {}, ingress: [{ports: [{protocol: UDP, port: 81}]}]}"),
                            [("TCP", 81), ("UDP", 81)]),
    "egress-deny-all": (policy("no-egress", "y", "{podSelector: {}, policyTypes: [Egress]}"), TCP80),
    "egress-to-dns-only": (policy("dns-only", "y", f"{{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: "
                                                   f"[{KUBE_DNS}], ports: [{{protocol: UDP, port: 53}}]}}]}}"), TCP80),
    "egress-to-a-namespace-and-pod": (policy("to-z-a", "y", "{podSelector: {}, policyTypes: [Egress], egress: [{to: "
                                                            "[{namespaceSelector: {matchLabels: {ns: z}}, podSelector: "
                                                            "{matchLabels: {pod: a}}}]}]}"), TCP80),
    "ingress-and-egress-together": (policy("both", "x", "{podSelector: {matchLabels: {pod: a}}, policyTypes: "
                                                        "[Ingress, Egress], ingress: [{from: [{namespaceSelector: "
                                                        "{matchLabels: {ns: z}}}]}], egress: "
                                                        "[{to: [{podSelector: {}}]}]}"),
                                    TCP80),
    "stacked-policies-add-up": (policy("from-b", "x", "{podSelector: {}, ingress: [{from: [{podSelector: "
                                                      "{matchLabels: {pod: b}}}]}]}")
                                + policy("from-z", "x", "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
                                                        "[{namespaceSelector: {matchLabels: {ns: z}}}]}]}"), TCP80),
    "allow-all-takes-precedence": (policy("deny", "x", "{podSelector: {}}")
                                   + policy("allow-all", "x", "{podSelector: {}, ingress: [{}]}"), TCP80),
}


OPEN = {"allow-from-all-namespaces", "allow-all-takes-precedence"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_kernel_enforces_what_the_evaluator_says(enforcing, case):
    text, ports = CASES[case]
    apply(enforcing, text)
    try:
        found = check(enforcing, ports)
        # (the two allow-all cases block nothing; every other case must block something)
        assert any(blocked(m) for m in found) != (case in OPEN), f"{case}: {sum(map(blocked, found))} cells blocked"
    finally:
        remove_policies(enforcing)


def test_ip_block_with_except(enforcing):
    c = enforcing.cluster()
    pods = {f"{p.namespace}/{p.name}": p for p in c.pods}
    spec = (f"{{podSelector: {{}}, ingress: [{{from: [{{ipBlock: {{cidr: 172.30.0.0/16, except: "
            f"[{pods['y/a'].ip}/32, {pods['z/b'].ip}/32]}}}}]}}]}}")
    apply(enforcing, policy("cidr", "x", spec))
    try:
        m, = check(enforcing, TCP80)
        assert not m.allowed[("y/a", "x/a")] and m.allowed[("y/b", "x/a")]
    finally:
        remove_policies(enforcing)


def test_removing_policies_restores_every_connection(enforcing):
    apply(enforcing, CASES["deny-all-ingress-and-egress"][0])
    m, = check(enforcing, TCP80)
    assert blocked(m) > 0
    remove_policies(enforcing)
    m, = check(enforcing, TCP80)
    assert blocked(m) == 0


def test_a_pod_labelled_later_and_a_namespace_relabelled_are_covered(enforcing):
    apply(enforcing, policy("from-new", "x", "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: "
                                             "{role: new}}, namespaceSelector: {}}, {namespaceSelector: "
                                             "{matchLabels: {team: late}}}]}]}"))
    try:
        m, = check(enforcing, TCP80)
        assert not m.allowed[("z/c", "x/a")] and not m.allowed[("y/b", "x/a")]
        pod = next(d for d in yaml.safe_load_all((EXAMPLES / "lab.yaml").read_text())
                   if d["kind"] == "Pod" and d["metadata"]["namespace"] == "z" and d["metadata"]["name"] == "c")
        pod["metadata"]["labels"]["role"] = "new"
        apply(enforcing, yaml.safe_dump(pod) + "---\napiVersion: v1\nkind: Namespace\n"
                                              "metadata: {name: y, labels: {ns: y, team: late}}\n")
        m, = check(enforcing, TCP80)        # at once: the rules changed before apply returned
        assert m.allowed[("z/c", "x/a")] and m.allowed[("y/b", "x/a")]
    finally:
        remove_policies(enforcing)
        apply(enforcing, "apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {ns: y}}\n")


def test_a_pod_added_after_the_policy_is_isolated_when_apply_returns(enforcing):
    apply(enforcing, policy("deny-new", "x", "{podSelector: {matchLabels: {role: late}}}"))
    late = ("apiVersion: v1\nkind: Pod\n"
            "metadata: {name: d, namespace: x, labels: {pod: d, suite: netpol, role: late}}\n"
            "spec: {nodeName: node2, containers: [{name: c, command: [netlab-whoami, --port, '80'], "
            "ports: [{containerPort: 80}]}]}\n")
    try:
        t = time.monotonic()
        apply(enforcing, late)
        applied = time.monotonic() - t
        m, = check(enforcing, TCP80)
        assert not m.allowed[("x/a", "x/d")] and m.allowed[("x/d", "x/a")]
        print(f"pod added (its rules in place) in {applied:.3f}s, probed isolated {time.monotonic() - t:.2f}s after")
    finally:
        remove_policies(enforcing)
        enforcing.update(lambda c: setattr(c, "pods", [p for p in c.pods if (p.namespace, p.name) != ("x", "d")]))


def _connected(lab: Lab, src: str, dst: str, port: int):
    """A TCP connection from pod src to pod dst: (client socket, server's accepted socket)."""
    c = lab.cluster()
    pods = {f"{p.namespace}/{p.name}": p for p in c.pods}
    from netlab.kernel import netns

    def listen():
        s = socket.socket()
        s.bind(("0.0.0.0", port))
        s.listen()
        return s

    def dial():
        s = socket.create_connection((pods[dst].ip, port), timeout=2)
        return s
    server = netns.run_in(layout.pod_ns(c.name, pods[dst]), listen)
    client = netns.run_in(layout.pod_ns(c.name, pods[src]), dial)
    server.settimeout(2)
    accepted, _ = server.accept()
    server.close()
    accepted.settimeout(2)
    return client, accepted


def test_established_connections_that_stay_allowed_keep_flowing(enforcing):
    client, served = _connected(enforcing, "x/b", "x/a", 9000)
    try:
        client.sendall(b"before")
        assert served.recv(16) == b"before"
        apply(enforcing, policy("only-b", "x", "{podSelector: {}, ingress: [{from: [{podSelector: "
                                               "{matchLabels: {pod: b}}}], ports: [{port: 9000}]}]}"))
        client.sendall(b"after")
        assert served.recv(16) == b"after"
        served.sendall(b"reply")
        assert client.recv(16) == b"reply"
        m, = check(enforcing, TCP80)          # new connections obey the policy
        assert not m.allowed[("x/b", "x/a")]
    finally:
        client.close()
        served.close()
        remove_policies(enforcing)


def test_dns_works_only_where_egress_allows_it(enforcing):
    c = enforcing.cluster()
    pods = {f"{p.namespace}/{p.name}": p for p in c.pods}
    name = "kube-dns.kube-system.svc.cluster.local"
    resolve = ["dig", "+short", "+time=1", "+tries=1", "@10.254.0.2", name]
    apply(enforcing, CASES["egress-to-dns-only"][0] + policy("no-egress", "z", "{podSelector: {}, "
                                                                              "policyTypes: [Egress]}"))
    try:
        assert sh(layout.pod_ns(c.name, pods["y/a"]), *resolve).stdout.strip() == "10.254.0.2"
        failed = sh(layout.pod_ns(c.name, pods["z/a"]), *resolve, check=False)
        assert failed.returncode != 0 and "timed out" in failed.stdout
    finally:
        remove_policies(enforcing)


@pytest.mark.parametrize("case", sorted(CASES))
def test_flannel_alone_stores_policies_and_enforces_none(flannel_only, case):
    text, ports = CASES[case]
    apply(flannel_only, text)
    try:
        assert flannel_only.cluster().network_policies
        for m in probe(flannel_only, ports):
            assert blocked(m) == 0, f"{case}: flannel alone blocked\n{reachability.pretty(m)}"
        ns = layout.node_ns(flannel_only.name, "node1")
        assert "cali-" not in sh(ns, "iptables-legacy-save", "-t", "filter").stdout
    finally:
        remove_policies(flannel_only)


def _random_selector(r, labels: dict[str, list[str]]) -> dict:
    key = r.choice(sorted(labels))
    if r.random() < 0.5:
        return {"matchLabels": {key: r.choice(labels[key])}}
    op = r.choice(["In", "NotIn", "Exists", "DoesNotExist"])
    expr = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = r.sample(labels[key], 2)
    return {"matchExpressions": [expr]}


def random_policies(seed: int) -> str:
    """1-3 policies of every form over the lab's labels (pod a-c, ns x-z, suite)."""
    import random
    r = random.Random(seed)
    pod_labels, ns_labels = {"pod": ["a", "b", "c"]}, {"ns": ["x", "y", "z"]}
    out = []
    for i in range(r.randint(1, 3)):
        def peer():
            kind = r.choice(["pod", "ns", "both", "ip"])
            if kind == "ip":
                return {"ipBlock": {"cidr": r.choice(["172.30.76.0/24", "172.30.0.0/16"]),
                                    "except": r.choice([[], ["172.30.76.0/28"]])}}
            p = {}
            if kind in ("pod", "both"):
                p["podSelector"] = _random_selector(r, pod_labels)
            if kind in ("ns", "both"):
                p["namespaceSelector"] = _random_selector(r, ns_labels)
            return p

        def port():
            return r.choice([{"port": 80}, {"port": 81}, {"port": 80, "endPort": 81}, {"port": "serve-81-tcp"},
                             {"protocol": "UDP", "port": 81}, {"protocol": "UDP"}])

        def rules(key):
            return [{k: v for k, v in ((key, [peer() for _ in range(r.randint(0, 2))]),
                                       ("ports", [port() for _ in range(r.randint(0, 2))])) if v}
                    for _ in range(r.randint(0, 2))]
        types = r.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec = {"podSelector": _random_selector(r, pod_labels) if r.random() < 0.7 else {}, "policyTypes": types,
                "ingress": rules("from"), "egress": rules("to")}
        out.append(policy(f"random-{i}", r.choice("xyz"), yaml.safe_dump(spec, default_flow_style=True).strip()))
    return "".join(out)


@pytest.mark.parametrize("seed", range(12))
def test_the_kernel_agrees_with_the_evaluator_on_random_policies(enforcing, seed):
    apply(enforcing, random_policies(seed))
    try:
        check(enforcing, [("TCP", 80), ("TCP", 81), ("UDP", 81)])
    finally:
        remove_policies(enforcing)


def test_the_kernel_reads_back_exactly_the_rules_written(enforcing):
    """iptables-save and ipset save give back what the enforcer wrote: a sync that reads the
    kernel instead of its record changes nothing (no needless rewrite of any chain)."""
    apply(enforcing, "".join(CASES[k][0] for k in ("ports", "named-port", "pod-or-namespace-selector",
                                                   "egress-to-dns-only")) + random_policies(3))
    try:
        enforcing.dataplane.forget_rules()
        assert enforcing.dataplane.sync(enforcing.cluster()) == {"node1": 0, "node2": 0}
        ns = layout.node_ns(enforcing.name, "node1")
        assert "cali-tw-" in sh(ns, "iptables-legacy-save", "-t", "filter").stdout
        assert "create cali40s:" in sh(ns, "ipset", "save").stdout
    finally:
        remove_policies(enforcing)


def test_trace_names_the_policy_that_dropped_the_request(enforcing):
    import json
    from helpers import netlab
    apply(enforcing, policy("deny", "x", "{podSelector: {}}"))
    try:
        x_a = next(p.ip for p in enforcing.cluster().pods if (p.namespace, p.name) == ("x", "a"))
        r = netlab("trace", "--name", enforcing.name, "-n", "y", "a", f"{x_a}:80", "-o", "json", check=False)
        doc = json.loads(r.stdout)
        assert r.returncode == 1 and doc["result"] == "timed out", r.stdout
        assert "NetworkPolicy: ingress of the pod is isolated by x/deny" in doc["died"]["reason"]
        assert "Drop if no policies passed packet" in doc["died"]["reason"]
        dropped = [e["data"] for h in doc["hops"] for e in h["evidence"]
                   if e["kind"] == "rule" and e["data"]["target"] == "DROP"]
        assert dropped and dropped[0]["chain"].startswith("cali-tw-") and dropped[0]["packets"] >= 1
    finally:
        remove_policies(enforcing)
