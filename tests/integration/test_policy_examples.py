"""examples/networkpolicy/ end to end through the CLI, as a user runs them: each example's
policies applied to its lab, `netlab probe` against the example's expected matrix (whose first
line is the probe's command), and that matrix against the evaluator."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from helpers import leftovers, netlab, unique

from netlab import reachability
from netlab.policy import evaluate
from netlab.state import LabRecord

EXAMPLES = Path(__file__).parents[2] / "examples" / "networkpolicy"
ON_LAB_YAML = ["default-deny", "allow-from-namespace", "egress-dns-only", "client-ipblock"]


def _up(*args: str):
    name = unique("ex")
    try:
        netlab("up", "--name", name, *args, timeout=120)
        yield name
    finally:
        netlab("down", "--name", name, check=False)
        assert leftovers(name) == []


@pytest.fixture(scope="module")
def xyz():
    yield from _up("-f", str(EXAMPLES / "lab.yaml"), "--policy", "enforce")


@pytest.fixture(scope="module")
def seed():
    yield from _up("--policy", "enforce")


def probe_args(example: str) -> list[str]:
    first = (EXAMPLES / f"{example}.expected").read_text().splitlines()[0]
    assert first.startswith("# netlab probe"), f"{example}.expected must begin with its probe command"
    return shlex.split(first[len("# netlab probe"):])


def agrees_with_the_evaluator(lab: str, example: str) -> None:
    c = LabRecord(lab).cluster()
    parties = {f"{p.namespace}/{p.name}": evaluate.Party.of(p) for p in c.pods}
    parties.update({h.name: evaluate.Party(h.ip) for h in c.hosts})
    for m in reachability.parse((EXAMPLES / f"{example}.expected").read_text(), f"{example}.expected"):
        for (src, dst), connected in m.allowed.items():
            want = src == dst or evaluate.allowed(c, parties[src], parties[dst], m.protocol, m.port)
            assert connected == want, f"{example}.expected: {src} -> {dst} reads {connected}, the evaluator {want}"


def run_example(lab: str, example: str) -> None:
    netlab("apply", "--name", lab, "-f", str(EXAMPLES / f"{example}.yaml"))
    try:
        agrees_with_the_evaluator(lab, example)
        r = netlab("probe", "--name", lab, *probe_args(example), "--expect", str(EXAMPLES / f"{example}.expected"),
                   check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "X" in (EXAMPLES / f"{example}.expected").read_text()
    finally:
        netlab("delete", "--name", lab, "-f", str(EXAMPLES / f"{example}.yaml"))


@pytest.mark.parametrize("example", ON_LAB_YAML)
def test_examples_on_the_netpol_lab(xyz, example):
    run_example(xyz, example)


def test_dns_still_answers_under_the_egress_lock_down(xyz):
    netlab("apply", "--name", xyz, "-f", str(EXAMPLES / "egress-dns-only.yaml"))
    try:
        dig = ["dig", "+short", "+time=1", "+tries=1", "kube-dns.kube-system.svc.cluster.local"]
        assert netlab("exec", "--name", xyz, "-n", "y", "a", "--", *dig).stdout.strip() == "10.254.0.2"
    finally:
        netlab("delete", "--name", xyz, "-f", str(EXAMPLES / "egress-dns-only.yaml"))


def test_the_walkthrough_case_only_the_data_tier_reaches_the_database(seed):
    run_example(seed, "walkthrough-database")
    netlab("apply", "--name", seed, "-f", str(EXAMPLES / "walkthrough-database.yaml"))
    # the shop still answers from outside: client -> ingress -> business-manager -> data-product -> db
    url = "http://192.168.0.21:30799/api/v1/product/list"
    answer = netlab("exec", "--name", seed, "client", "--", "curl", "-s", "-m", "5",
                    "-H", "Host: business-manager.default", url).stdout
    assert '"products"' in answer, answer
    dial = ["python3", "-c", "import socket; socket.create_connection(('mysql', 3306), timeout=2)"]
    denied = netlab("exec", "--name", seed, "business-manager-666f454f7f-7l86b", "--", *dial, check=False)
    assert denied.returncode != 0 and "timed out" in denied.stderr
    assert netlab("exec", "--name", seed, "data-product-6664c6dcb9-4zk27", "--", *dial).returncode == 0
    listed = netlab("get", "netpol", "--name", seed).stdout
    assert listed.splitlines()[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert "business-manager   app=business-manager" in listed
    described = netlab("describe", "netpol", "data-product", "--name", seed).stdout
    assert "  Not affecting ingress traffic\n  Allowing egress traffic:\n    To Port: 3306/TCP\n    To:\n" \
           "      IPBlock:\n        CIDR: 192.168.0.103/32\n        Except: \n    ----------\n" in described


def test_without_enforcement_the_walkthrough_policies_change_nothing():
    for name in _up():
        r = netlab("apply", "--name", name, "-f", str(EXAMPLES / "walkthrough-database.yaml"))
        assert "does not enforce NetworkPolicy (policy: none, flannel alone)" in r.stderr
        assert "default/business-manager, default/data-product stored, with no effect" in r.stderr
        out = netlab("probe", "--name", name, "--port", "3306", "--host", "db").stdout
        m, = reachability.parse("\n".join(line for line in out.splitlines() if not line.startswith("#")), "probe")
        assert all(m.allowed.values()) and len(m.allowed) == 8 * 9
        listed = yaml.safe_load(netlab("get", "networkpolicies", "--name", name, "-o", "yaml").stdout)
        assert [(x["metadata"]["namespace"], x["metadata"]["name"], x["spec"]["policyTypes"])
                for x in listed["items"]] == [("default", "business-manager", ["Egress"]),
                                              ("default", "data-product", ["Egress"])]
