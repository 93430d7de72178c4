"""netlab describe networkpolicy: kubectl (1.2x) describe's text, golden files in
tests/unit/golden/output/networkpolicy-describe-*.txt (NETLAB_UPDATE_GOLDEN=1 rewrites them).

"kubectl-example" is the policy of kubectl's own TestDescribeNetworkPolicies
(pkg/describe/describe_test.go), created 2017-06-04 21:45:56 -0700 PDT: its golden file is that
test's expected text, byte for byte. The others are read in UTC."""
from __future__ import annotations

import calendar
import os
import time
from pathlib import Path

import pytest
import yaml

import golden_files
from netlab import output
from netlab.model import manifests
from netlab.model.objects import NetworkPolicy

GOLDEN = Path(__file__).parent / "golden" / "output"
NOW = 1_700_000_000.0                                    # 2023-11-14 22:13:20 UTC
PACIFIC = "PST8PDT,M3.2.0,M11.1.0"                       # a POSIX TZ: needs no tzdata


def policy(text: str, created: float = NOW) -> NetworkPolicy:
    doc = yaml.safe_load(text)
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **doc}
    m = manifests.parse_document(doc, "np.yaml: document 1")
    assert m is not None and not m.warnings, m and m.warnings
    m.obj.created = created
    return m.obj


@pytest.fixture
def zone(monkeypatch):
    """Set the local time zone (kubectl prints a creation time in its own); restored after."""
    def set_zone(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


KUBECTL_RULES = """
  - ports: [{port: 80}, {port: 82, protocol: TCP}]
    {key}:
    - {podSelector: {matchLabels: {id: pod1, id2: pod2}}, namespaceSelector: {matchLabels: {id: ns1, id2: ns2}}}
    - {podSelector: {matchLabels: {id: app2, id2: app3}}}
    - {namespaceSelector: {matchLabels: {id: app2, id2: app3}}}
    - namespaceSelector:
        matchLabels: {id: app2, id2: app3}
        matchExpressions: [{key: foo, operator: In, values: [bar1, bar2]}]
    - {ipBlock: {cidr: 192.168.0.0/16, except: [192.168.3.0/24, 192.168.4.0/24]}}
  - {}"""

KUBECTL_EXAMPLE = f"""
metadata: {{name: network-policy-1, namespace: default}}
spec:
  podSelector:
    matchLabels: {{id1: app1, id2: app2}}
    matchExpressions:
    - {{key: foo, operator: In, values: [bar1, bar2]}}
    - {{key: foo2, operator: NotIn, values: [bar1, bar2]}}
  ingress:{KUBECTL_RULES.replace("{key}", "from")}
  egress:{KUBECTL_RULES.replace("{key}", "to")}
  policyTypes: [Ingress, Egress]
"""

EVERY_FORM = """
metadata:
  name: every-form
  namespace: shop
  labels: {team: payments, app.kubernetes.io/part-of: shop}
spec:
  podSelector:
    matchLabels: {app: db}
    matchExpressions:
    - {key: tier, operator: In, values: [primary, replica]}
    - {key: canary, operator: DoesNotExist}
    - {key: env, operator: NotIn, values: [test]}
    - {key: backup, operator: Exists}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - {podSelector: {matchLabels: {app: web}}}
    - {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}
    - {namespaceSelector: {matchLabels: {team: payments}}, podSelector: {matchLabels: {role: client}}}
    - {podSelector: {}}
    - {namespaceSelector: {}}
    - {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.0.0/16]}}
    - {ipBlock: {cidr: 192.168.0.103/32}}
    ports:
    - {port: 5432}
    - {port: metrics, protocol: TCP}
    - {port: 6000, endPort: 6010}
    - {protocol: UDP, port: 53}
    - {protocol: SCTP}
  - ports: [{port: 8080}]
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [b, a]}]}}]
  - {}
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
  - ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"""

DENY_INGRESS = """
metadata: {name: default-deny-ingress, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""

DENY_BOTH = """
metadata: {name: default-deny-all, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""

# examples/networkpolicy/walkthrough-database.yaml's first policy
EGRESS_ONLY = """
metadata: {name: business-manager, namespace: default}
spec:
  podSelector: {matchLabels: {app: business-manager}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: data-product}}}]
    ports: [{port: 50051}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"""

# ingress rules, and no Ingress among the types: kubectl shows the type, not the rules
RULES_NOT_IN_TYPES = """
metadata: {name: egress-only-with-ingress-rules, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {}}]}]
  egress: [{}]
"""

# no policyTypes: the API server's default, Ingress and (with egress rules) Egress
DEFAULT_TYPES = """
metadata: {name: default-types, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: lb}}}], ports: [{port: http}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: db}}}]}]
"""

UTC_CASES = {"every-form": EVERY_FORM, "deny-ingress": DENY_INGRESS, "deny-both": DENY_BOTH,
             "egress-only": EGRESS_ONLY, "rules-not-in-types": RULES_NOT_IN_TYPES, "default-types": DEFAULT_TYPES}


@pytest.mark.parametrize("name", sorted(UTC_CASES))
def test_golden(zone, name):
    zone("UTC")
    text = output.describe_networkpolicy(policy(UTC_CASES[name])) + "\n"
    golden_files.check(GOLDEN / f"networkpolicy-describe-{name}.txt", text)


def test_golden_kubectl_example(zone):
    zone(PACIFIC)
    created = calendar.timegm((2017, 6, 5, 4, 45, 56))       # 2017-06-04 21:45:56 -0700
    text = output.describe_networkpolicy(policy(KUBECTL_EXAMPLE, created)) + "\n"
    golden_files.check(GOLDEN / "networkpolicy-describe-kubectl-example.txt", text)


def test_created_on_is_local_time_in_whole_seconds(zone):
    p = policy(DENY_INGRESS, NOW + 0.75)
    zone("UTC")
    assert "\nCreated on:   2023-11-14 22:13:20 +0000 UTC\n" in output.describe_networkpolicy(p)
    zone(PACIFIC)
    assert "\nCreated on:   2023-11-14 14:13:20 -0800 PST\n" in output.describe_networkpolicy(p)
    assert os.environ["TZ"] == PACIFIC


def test_spec_lines_are_not_aligned_and_hold_no_tab(zone):
    zone("UTC")
    text = output.describe_networkpolicy(policy(EVERY_FORM))
    assert "\t" not in text
    spec = text.split("\nSpec:\n", 1)[1].splitlines()
    assert spec[0].startswith("  PodSelector:     app=db,backup,!canary,env notin (test),tier in (primary,replica)")
    assert "    To Port: 6000/TCP" in spec                     # 1.2x: endPort not shown
    assert "    To Port: <nil>/SCTP" in spec                   # a protocol without a port
    assert "        Except: " in spec                          # no except: the label, a space, nothing


def test_labels_align_with_the_header(zone):
    zone("UTC")
    head = output.describe_networkpolicy(policy(EVERY_FORM)).split("\nSpec:\n")[0].splitlines()
    assert head[3:5] == ["Labels:       app.kubernetes.io/part-of=shop", "              team=payments"]
    assert all(line[14] != " " and line[12:14] == "  " for line in head if not line.startswith(" "))
