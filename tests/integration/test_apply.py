"""netlab apply as kubectl apply: created, configured, unchanged; standard input; bad input
as one line with nothing changed."""
import re
import subprocess
import sys

from helpers import apply, leftovers, netlab, sh, unique

from netlab import layout

WEB = """\
apiVersion: v1
kind: Service
metadata: {name: shop}
spec: {selector: {app: shop}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: shop, command: [netlab-whoami, --port, "8080"], ports: [{containerPort: 8080}]}]
"""


def _stdin(lab: str, verb: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netlab.cli", verb, "-f", "-", "--name", lab],
                          input=data, capture_output=True, timeout=60)


def _rules(lab) -> str:
    """node1's rules, without iptables-save's dated comment lines and packet counters."""
    saved = sh(layout.node_ns(lab.name, "node1"), "iptables-legacy-save").stdout
    return re.sub(r"\[\d+:\d+\]", "[0:0]", "".join(line for line in saved.splitlines(keepends=True)
                                                  if not line.startswith("#")))


def test_apply_says_created_configured_unchanged(seed_lab, tmp_path):
    out = apply(seed_lab.name, tmp_path, WEB)
    assert out.stdout.splitlines()[:2] == ["service/shop created", "deployment/shop created"]
    again = apply(seed_lab.name, tmp_path, WEB)
    assert again.stdout.splitlines() == ["service/shop unchanged", "deployment/shop unchanged"]
    more = apply(seed_lab.name, tmp_path, WEB.replace("replicas: 1", "replicas: 2"))
    assert more.stdout.splitlines()[:2] == ["service/shop unchanged", "deployment/shop configured"]
    assert len([p for p in seed_lab.cluster().pods if p.owner == "shop"]) == 2
    netlab("delete", "-f", str(next(tmp_path.glob("m*.yaml"))), "--name", seed_lab.name)


def test_apply_and_delete_read_standard_input(seed_lab):
    doc = WEB.split("---\n")[0].replace("shop", "piped").encode()
    out = _stdin(seed_lab.name, "apply", doc)
    assert (out.returncode, out.stdout) == (0, b"service/piped created\n"), out.stderr
    svc = next(s for s in seed_lab.cluster().services if s.name == "piped")
    assert f"-d {svc.cluster_ip}/32" in _rules(seed_lab)          # no pods yet: REJECT in filter
    gone = _stdin(seed_lab.name, "delete", doc)
    assert (gone.returncode, gone.stdout) == (0, b"service/piped deleted\n"), gone.stderr
    assert all(s.name != "piped" for s in seed_lab.cluster().services)


def test_up_reads_manifests_from_standard_input():
    name = unique("stdin")
    try:
        out = _stdin(name, "up", WEB.encode())
        assert out.returncode == 0, out.stderr
        assert any(p.startswith("shop-") for p in netlab("get", "pods", "--name", name).stdout.split())
    finally:
        netlab("down", "--name", name, check=False)
    assert leftovers(name) == []


def test_empty_and_binary_input_are_one_line_and_change_nothing(seed_lab, tmp_path):
    before = _rules(seed_lab)
    state = seed_lab.dir.path.joinpath("state.json").read_bytes()
    empty = _stdin(seed_lab.name, "apply", b"")
    assert (empty.returncode, empty.stderr.decode()) == (1, "netlab: <stdin>: no objects passed to apply\n")
    comments = _stdin(seed_lab.name, "apply", b"# nothing here\n---\n")
    assert comments.stderr.decode() == "netlab: <stdin>: no objects passed to apply\n"
    blob = tmp_path / "blob.yaml"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    junk = netlab("apply", "-f", str(blob), "--name", seed_lab.name, check=False)
    assert junk.returncode == 1
    assert junk.stderr.startswith(f"netlab: {blob}: not YAML text: byte ") and junk.stderr.count("\n") == 1
    assert _rules(seed_lab) == before
    assert seed_lab.dir.path.joinpath("state.json").read_bytes() == state
