"""netlab trace on the seed lab: the hops a real request took, each with the kernel's evidence
(DNS at the DNS pod, kube-proxy's rules and their counters, conntrack, flannel.1's entries, the
VXLAN packet on both nodes, the arrival); the places requests die; json against its schema; the
html page in headless Chromium."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from helpers import apply, netlab

from netlab.trace import report

BM = "business-manager-666f454f7f-7l86b"          # on node1
# a Service whose selector matches no pod: no endpoints
NOBODY = "{apiVersion: v1, kind: Service, metadata: {name: nobody}, spec: {selector: {app: nobody}, ports: [{port: 80}]}}"
ARTIFACTS = Path(os.environ.get("NETLAB_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))


def trace(lab: str, *args: str, check: bool = True) -> dict:
    r = netlab("trace", "--name", lab, *args, "-o", "json", check=False, timeout=60)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, json.loads(report.SCHEMA.read_text()))
    return doc


def evidence(doc: dict, kind: str) -> list[dict]:
    return [e for h in doc["hops"] for e in h["evidence"] if e["kind"] == kind]


def rules(doc: dict) -> list[str]:
    return [e["data"]["chain"] for e in evidence(doc, "rule")]


def served_by(doc: dict) -> dict:
    answer = evidence(doc, "answer")[-1]["data"]["answer"]
    return json.loads(answer.split("\r\n\r\n", 1)[1])["served_by"]


def test_a_trace_by_service_name_shows_dns_the_rules_that_matched_and_the_vxlan_hop(seed_lab):
    seen_node2 = None
    for _ in range(40):                  # kube-proxy picks an endpoint at random: until one on node2
        doc = trace(seed_lab.name, BM, "data-product")
        assert doc["result"] == "answered" and doc["died"] is None
        dns = evidence(doc, "dns")
        assert any(e["data"].get("query") == "data-product.default.svc.cluster.local." for e in dns)
        assert any("10.254.116.224" in e["data"].get("addresses", []) for e in dns)
        chains = rules(doc)
        assert chains.index("KUBE-SERVICES") < min(i for i, c in enumerate(chains) if c.startswith("KUBE-SVC-")) \
            < min(i for i, c in enumerate(chains) if c.startswith("KUBE-SEP-"))
        dnat = next(e for e in evidence(doc, "rule") if e["data"]["target"] == "DNAT")
        endpoint = dnat["data"]["rule"].split("--to-destination ")[1]
        conntrack = evidence(doc, "conntrack")[0]["data"]
        assert conntrack["reply_src"] == endpoint
        assert served_by(doc)["ip"] == endpoint.split(":")[0]      # the server that answered is the one chosen
        if served_by(doc)["node"] == "node2":
            seen_node2 = doc
            break
    assert seen_node2 is not None, "40 traces never reached data-product's pod on node2"
    vxlan = [e["data"] for e in evidence(seen_node2, "packet") if "outer" in e["data"]]
    assert {v["interface"] for v in vxlan} == {"node1:eth0", "node2:eth0"}
    assert all(v["outer"] == "192.168.0.21 -> 192.168.0.22" and v["vni"] == 1 and v["udp"].endswith("-> 8472")
               for v in vxlan)
    assert any(e["text"].startswith("ip neigh show") and "lladdr" in e["text"] for e in evidence(seen_node2, "neigh"))
    assert "dst 192.168.0.22 self permanent" in evidence(seen_node2, "fdb")[0]["text"]
    arrival = seen_node2["hops"][-1]
    assert arrival["where"] == "default/" + served_by(seen_node2)["pod"]
    assert any(e["kind"] == "packet" for e in arrival["evidence"])


def test_a_service_without_endpoints_ends_at_its_reject_rule(seed_lab, tmp_path):
    apply(seed_lab.name, tmp_path, NOBODY)
    try:
        doc = trace(seed_lab.name, BM, "nobody", check=False)
    finally:
        netlab("delete", "service", "nobody", "--name", seed_lab.name)
    assert doc["died"] is not None and "has no endpoints" in doc["died"]["reason"]
    died = doc["hops"][doc["died"]["hop"] - 1]
    reject = [e["data"] for e in died["evidence"] if e["kind"] == "rule" and e["data"]["target"] == "REJECT"]
    assert reject and reject[0]["table"] == "filter" and reject[0]["packets"] >= 1


def test_from_the_client_to_the_node_port(seed_lab):
    doc = trace(seed_lab.name, "client", "http://192.168.0.21:30799/")
    chains = rules(doc)
    assert "KUBE-NODEPORTS" in chains and any(c.startswith("KUBE-SEP-") for c in chains)
    assert doc["hops"][-1]["where"].startswith("ingress-nginx/nginx-ingress-controller")


def test_text_reads_as_numbered_steps_and_a_bad_target_is_one_line(seed_lab):
    r = netlab("trace", "--name", seed_lab.name, BM, "data-product")
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"trace default/{BM} -> data-product (tcp/50051)")
    assert lines[1].startswith(" 1. [") and "resolves data-product" in lines[1]
    assert lines[-1].startswith("result: answered")
    bad = netlab("trace", "--name", seed_lab.name, BM, "no-such-service", check=False)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "no-such-service" in bad.stderr


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="chromium is not installed (scripts/install.sh installs it)")
def test_the_html_page_opens_in_headless_chromium_and_shows_the_path(seed_lab, tmp_path):
    page = tmp_path / "trace.html"
    netlab("trace", "--name", seed_lab.name, BM, "data-product", "-o", "html", "--file", str(page))
    text = page.read_text()
    assert "<svg" in text and 'id="hop-1"' in text
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "trace.png"
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "CONSOLE(" not in dom.stderr      # no script error, no console message
    assert 'id="hop-1"' in dom.stdout and "<svg" in dom.stdout
    assert 'id="pod:default/' + BM in dom.stdout and "#d62728" in dom.stdout      # the source, and the path in red
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_udp_and_icmp_traces(seed_lab):
    udp = trace(seed_lab.name, BM, "kube-dns.kube-system", "--proto", "udp")
    assert udp["to"]["port"] == 53 and udp["hops"][-1]["where"].startswith("kube-system/kube-dns-")
    assert "kubernetes.default.svc.cluster.local" in evidence(udp, "answer")[-1]["data"]["answer"]
    icmp = trace(seed_lab.name, BM, "data-product-6664c6dcb9-tkmms", "--proto", "icmp")
    assert icmp["to"]["port"] == 0 and icmp["hops"][-1]["what"] == "arrives at 172.30.9.2"
    assert any("ICMP echo request" in e["text"] for e in evidence(icmp, "packet"))
