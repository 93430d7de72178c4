"""netlab render kube-proxy: what kube-proxy hands the kernel for some manifests, without a
lab and without root."""
import os
import re
import subprocess
import sys

import pytest

from netlab import cli
from netlab.kube_proxy import iptables_current, nftables, view

MANIFESTS = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- {addresses: [10.244.1.5], nodeName: n1}
- {addresses: [10.244.2.7], nodeName: n2, conditions: {ready: false}}
"""
ARGS = ["render", "kube-proxy", "--node-name", "n1", "--node-ip", "192.168.1.10", "--pod-cidr", "10.244.1.0/24"]


def render(tmp_path, capsys, *extra):
    path = tmp_path / "m.yaml"
    path.write_text(MANIFESTS)
    code = cli.main([*ARGS, "-f", str(path), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _ports(tmp_path):
    import yaml
    return view.from_objects([("m", d) for d in yaml.safe_load_all(MANIFESTS)])


def test_iptables_is_the_builders_restore_text_for_that_node(tmp_path, capsys):
    code, out, _ = render(tmp_path, capsys)
    node = view.NodeConfig("n1", ("192.168.1.10",), pod_cidr="10.244.1.0/24")
    assert code == 0 and out == iptables_current.restore_text(iptables_current.build(_ports(tmp_path), node))
    assert out.startswith("*filter\n") and "COMMIT\n*nat\n" in out
    assert "-j DNAT --to-destination 10.244.1.5:8080" in out and "10.244.2.7" not in out     # not ready
    assert '! -s 10.244.1.0/24' in out and "--dport 30080" in out
    assert "block incoming localnet connections" in out         # kube-proxy's default: localhost NodePorts


def test_flags_reach_the_proxier(tmp_path, capsys):
    _, out, _ = render(tmp_path, capsys, "--no-localhost-nodeports", "--masquerade-bit", "15",
                       "--nodeport-addresses", "192.168.1.0/24")
    assert "block incoming localnet connections" not in out
    assert "--or-mark 0x00008000" in out and "0x00004000" not in out
    assert "-d 192.168.1.10 " in out and "--dst-type LOCAL -j KUBE-NODEPORTS" not in out


def test_nftables_is_the_builders_full_transaction(tmp_path, capsys):
    code, out, _ = render(tmp_path, capsys, "--flavour", "nftables")
    node = view.NodeConfig("n1", ("192.168.1.10",), pod_cidr="10.244.1.0/24")
    assert code == 0 and out == nftables.full_text(nftables.build(_ports(tmp_path), node))
    assert out.startswith("add table ip kube-proxy") and "dnat to 10.244.1.5:8080" in out


@pytest.mark.parametrize("extra, message", [
    (["--node-ip", "192.168.1.300"], "argument --node-ip: '192.168.1.300' is not an IPv4 address"),
    (["--pod-cidr", "10.0.0.0/40"], "argument --pod-cidr: '10.0.0.0/40' is not a CIDR"),
    (["--masquerade-bit", "32"], "argument --masquerade-bit: '32' must be a bit number 0-31"),
])
def test_a_bad_flag_is_one_line_naming_it(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        render(tmp_path, capsys, *extra)


def test_a_bad_document_is_one_line_naming_file_document_and_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Service\nmetadata: {name: x}\nspec: {clusterIP: 10.0.0.1, ports: [{port: eighty}]}\n")
    assert cli.main([*ARGS, "-f", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"netlab: {path}: document 1 (Service): spec.ports[0].port: missing or not a whole number\n"


def test_it_runs_without_root():
    """(as the user nobody, the manifests on standard input)"""
    if os.geteuid() != 0:
        env, user = None, None
    else:
        env, user = {"PATH": "/usr/bin:/bin", "HOME": "/"}, 65534
    r = subprocess.run([sys.executable, "-m", "netlab.cli", *ARGS, "-f", "-"], input=MANIFESTS, text=True,
                       capture_output=True, user=user, env=env, cwd="/")
    assert r.returncode == 0, r.stderr
    assert "-j DNAT --to-destination 10.244.1.5:8080" in r.stdout
