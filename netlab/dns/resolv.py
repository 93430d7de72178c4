"""A pod's /etc/resolv.conf, as the kubelet writes it for dnsPolicy ClusterFirst (pure)."""
from __future__ import annotations

from netlab.model.objects import Cluster, Pod

KUBE_DNS = ("kube-system", "kube-dns")


def nameserver(c: Cluster) -> str:
    svc = next((s for s in c.services if (s.namespace, s.name) == KUBE_DNS), None)
    return svc.cluster_ip if svc and svc.cluster_ip else ""


def resolv_conf(c: Cluster, pod: Pod) -> str:
    """Search list starts with the pod's own namespace; ndots:5 as the kubelet sets it."""
    zone = c.dns_domain.rstrip(".")
    lines = [f"nameserver {nameserver(c)}"] if nameserver(c) else []
    lines += [f"search {pod.namespace}.svc.{zone} svc.{zone} {zone}", "options ndots:5"]
    return "\n".join(lines) + "\n"
