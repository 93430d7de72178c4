"""kube-proxy in iptables mode: Services become nat and filter rules in each node.

The generation netlab reproduces is the walk-through's kube-proxy: an iptables proxier
of v1.12 or v1.13 (2018; the walk-through's iptables-save has KUBE-SVC-*/KUBE-SEP-*
rules without their comment, which v1.12 to about v1.18 wrote, and probabilities with
five decimals, as before v1.17), together with the two chains the kubelet of that era
added (KUBE-MARK-DROP in nat, KUBE-FIREWALL in filter). Consistently with that release:

- KUBE-FW-<hash> fronts a load-balancer IP, KUBE-XLB-<hash> implements
  externalTrafficPolicy=Local (the names later releases call KUBE-EXT-/KUBE-SVL-
  do not exist yet);
- REJECT rules for services without endpoints live in the filter table: cluster IPs
  in KUBE-SERVICES, node ports and external IPs in KUBE-EXTERNAL-SERVICES; the jumps
  to them match `--ctstate NEW` only;
- a service port without endpoints has no KUBE-SVC chain and no nat rule for its
  cluster IP or node port, only its REJECT;
- kube-proxy runs with --cluster-cidr, which adds `! -s <clusterCIDR> -j KUBE-MARK-MASQ`
  to each cluster-IP rule and the conntrack rules of KUBE-FORWARD. The walk-through's
  was given the service network (10.254.0.0/16, its KUBE-FORWARD lines say so), so
  the seed's pods' connections to cluster IPs are masqueraded, as they were there
  (Cluster.proxy_cluster_cidr; topology labs use the pod network).

Two later fixes are included because without them the lab would misbehave where a
user expects it not to, each marked in rules.py: the filter FORWARD chain also
jumps to KUBE-SERVICES (v1.14, kubernetes#72534; before it a pod's connection to a
service without endpoints hung instead of being refused), and KUBE-XLB chains carry
the ClientIP affinity rules (otherwise affinity does not hold for Local traffic).

Rules are written in the canonical form `iptables-save` prints them back (option
order, `--reject-with icmp-port-unreachable`, the `recent` match's defaults), except
the probability, written as kube-proxy wrote it; rules.as_saved() gives the form read
back, so desired and actual rules compare line by line.
"""
from netlab.kube_proxy.rules import (  # noqa: F401
    Table, as_saved, build, diff, parse_save, probability, render, restore_input,
    saved_probability, to_text,
)
