"""netlab export: a failed test's bundle, read back as a user would."""
from __future__ import annotations

import yaml

from helpers import netlab


def test_export_writes_logs_objects_namespaces_and_pcaps(seed_lab, tmp_path):
    pcap = tmp_path / "taken.pcap"
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    out = tmp_path / "bundle"
    r = netlab("export", seed_lab.name, str(out), "--pcap", str(pcap))
    assert r.stdout.splitlines()[-1].startswith(f"netlab: wrote {out} (objects 9, logs ")
    pods = yaml.safe_load((out / "objects" / "pods.yaml").read_text())
    assert {p["status"]["podIP"] for p in pods["items"]} >= {"172.30.76.7", "172.30.9.2"}
    secrets = (out / "objects" / "secrets.yaml").read_text()
    assert "<redacted>" in secrets and "BEGIN" not in secrets
    node1 = out / "namespaces" / f"{seed_lab.name}-node1"
    assert "-A KUBE-SERVICES" in (node1 / "iptables.txt").read_text()
    assert "flannel.1" in (node1 / "ip-addr.txt").read_text() and "vxlan id 1" in (node1 / "ip-addr.txt").read_text()
    assert "dst 192.168.0.22 self permanent" in (node1 / "bridge-fdb.txt").read_text()
    assert "172.30.76.0/24 dev docker0" in (node1 / "ip-route.txt").read_text()
    assert any(f.name.startswith("kubelet") for f in (out / "logs").iterdir())
    assert (out / "pcaps" / "taken.pcap").read_bytes() == pcap.read_bytes()
    assert "objects/<kind>.yaml" in (out / "README.txt").read_text()


def test_export_refuses_a_directory_in_use(seed_lab, tmp_path):
    (tmp_path / "x").write_text("mine")
    r = netlab("export", "--name", seed_lab.name, str(tmp_path), check=False)
    assert r.returncode == 1 and r.stderr.strip() == f"netlab: export: {tmp_path} exists and is not an empty directory"
    assert (tmp_path / "x").read_text() == "mine"
