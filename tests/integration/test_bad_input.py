"""Bad input to a running lab, each refused with one line naming file, field and value, a
non-zero exit, and nothing changed: the lab's record, node1's iptables, the namespaces."""
import json
import os
import re
import textwrap

from helpers import apply, leftovers, netlab, sh, unique

from netlab import layout
from netlab.state import RUN_DIR

TOPOLOGY = """\
nodes:
  - {name: node1, ip: 192.168.0.21, podCIDR: 172.30.76.0/24}
deployments:
  - {name: web, replicas: 1}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, clusterIP: 10.254.7.7, ports: [{port: 80, targetPort: 8080}]}
"""


def _endpoints(ip: str, port: int = 80) -> str:
    return f"apiVersion: v1\nkind: Endpoints\nmetadata: {{name: ext}}\n" \
           f"subsets: [{{addresses: [{{ip: '{ip}'}}], ports: [{{port: {port}}}]}}]\n"


def _pod(name: str = "p", spec: str = "", container: str = "") -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n" \
           f"spec: {{{spec}containers: [{{name: c, command: [netlab-whoami]{container}}}]}}\n"


def _service(name: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{{spec}}}\n"


def _deployment(replicas: int = 1, container: str = "", spec: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: big}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: big}}}}
          template:
            metadata: {{labels: {{app: big}}}}
            spec: {{containers: [{{name: c, command: [netlab-whoami]{container}}}]{spec}}}
        """)


def _mount(path: str) -> str:
    return _deployment(container=f", volumeMounts: [{{name: v, mountPath: {path}}}]",
                       spec=", volumes: [{name: v, configMap: {name: c}}]")


# manifests: (text, the field and the value the line must name)
MANIFESTS = [
    (_endpoints("999.1.1.1"), "subsets[0].addresses[0].ip", "'999.1.1.1' is not an IPv4 address"),
    (_endpoints("hello"), "subsets[0].addresses[0].ip", "'hello'"),
    (_endpoints("::1"), "subsets[0].addresses[0].ip", "'::1' is not an IPv4 address (the lab is IPv4 only)"),
    (_endpoints("127.0.0.1"), "subsets[0].addresses[0].ip", "127.0.0.1 may not be in the loopback range"),
    (_endpoints("169.254.1.1"), "subsets[0].addresses[0].ip", "169.254.1.1 may not be in the link-local range"),
    (_endpoints("224.0.0.1"), "subsets[0].addresses[0].ip", "224.0.0.1 may not be in the link-local multicast"),
    (_endpoints("10.9.9.9", port=0), "subsets[0].ports[0].port", "0 must be between 1 and 65535, inclusive"),
    (_service("zero", "ports: [{port: 0}]"), "spec.ports[0].port", "0 must be between 1 and 65535"),
    (_deployment(container=", ports: [{containerPort: 0}]"), "containers[0].ports[0].containerPort",
     "0 must be between 1 and 65535"),
    (_deployment(replicas=1000000), "spec.replicas", "1000000 is more pods than the lab can hold"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_NS}\n", "metadata.name", "'Bad_NS'"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: foo}\n", "metadata.namespace",
     'namespaces "foo" not found'),
    (_mount("/run/netns"), "volumeMounts[0].mountPath", "'/run/netns' must not be /run/netns"),
    (_mount("/proc/sys"), "volumeMounts[0].mountPath", "'/proc/sys' must not be /proc"),
    (_pod("node1"), "metadata.name", "'node1' is the name of a node of the lab"),
    (_pod("client"), "metadata.name", "'client' is the name of an outside host of the lab"),
    (_pod(spec="nodeName: node9, "), "spec.nodeName", "'node9' is not a node of this cluster"),
    (_pod("Bad_Pod"), "metadata.name", "'Bad_Pod'"),
    (_service("Bad_Svc", "ports: [{port: 80}]"), "metadata.name", "'Bad_Svc'"),
    (_service("rs", "clusterIP: 10.254.7.7, ports: [{port: 80}]"), "service default/rs: spec.clusterIP",
     "10.254.7.7 is already allocated to service default/web"),
    (_service("np", "type: NodePort, ports: [{port: 80, nodePort: 40000}]"), "spec.ports[0].nodePort", "40000"),
]


def _rules(ns: str) -> str:
    saved = sh(ns, "iptables-legacy-save").stdout
    return re.sub(r"\[\d+:\d+\]", "[0:0]", "".join(x for x in saved.splitlines(True) if not x.startswith("#")))


def _snapshot(lab: str) -> tuple:
    cluster = json.loads((RUN_DIR / lab / "state.json").read_text())["cluster"]
    return (cluster, _rules(layout.node_ns(lab, "node1")),
            sorted(n for n in os.listdir("/run/netns") if n.startswith(f"{lab}-")))


def _one_line(r, *words: str) -> None:
    assert r.returncode != 0, r.stdout
    assert r.stderr.startswith("netlab") and r.stderr.count("\n") == 1, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_bad_input_is_one_line_and_changes_nothing(tmp_path):
    lab = unique("bad")
    topo = tmp_path / "lab.yaml"
    topo.write_text(TOPOLOGY)
    other = unique("bad")          # a lab that must not come up
    try:
        netlab("up", "-f", str(topo), "--name", lab)
        apply(lab, tmp_path, SERVICE)
        before = _snapshot(lab)
        tried = 0
        for i, (text, field, value) in enumerate(MANIFESTS):
            f = tmp_path / f"bad{i}.yaml"
            f.write_text(text)
            _one_line(netlab("apply", "-f", str(f), "--name", lab, check=False), f"{f}: document 1: ", field, value)
            assert _snapshot(lab) == before, text
            tried += 1
        for argv, words in [
            (("scale", "deploy/web", "--replicas", "1000000"), ("--replicas", "1000000 is more pods than")),
            (("scale", "deploy/web", "--replicas", "-1"), ("--replicas", "'-1' must be a whole number >= 0")),
            (("node", "add", "node3", "--pods", "-1"), ("--pods", "'-1' must be a whole number >= 0")),
            (("node", "add", "node3", "--pods", "300"), ("300 pods are more than node node3's podCIDR",)),
        ]:
            _one_line(netlab(*argv, "--name", lab, check=False), *words)
            assert _snapshot(lab) == before, argv
            tried += 1
        for section, value, words in [
            ("cluster: {serviceCIDR: 172.30.128.0/20}\n", "serviceCIDR",
             ("cluster.serviceCIDR: 172.30.128.0/20 overlaps cluster.clusterCIDR 172.30.0.0/16",)),
            ("underlay: {cidr: 172.0.0.0/8, router: 172.0.0.1}\n", "underlay",
             ("underlay.cidr: 172.0.0.0/8 overlaps cluster.clusterCIDR 172.30.0.0/16",)),
        ]:
            bad = tmp_path / f"{value}.yaml"
            bad.write_text(TOPOLOGY + section)
            _one_line(netlab("up", "-f", str(bad), "--name", other, check=False), f"{bad}: ", *words)
            assert leftovers(other) == [] and _snapshot(lab) == before
            tried += 1
        assert tried == len(MANIFESTS) + 6
    finally:
        netlab("down", "--name", lab, check=False)
    assert leftovers(lab) == []
