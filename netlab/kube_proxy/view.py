"""What a proxier sees: Services and their endpoints as kube-proxy holds them, one entry per
service port, and the node it runs on. Plain data, shared by every flavour's rule builder
(the walk-through's iptables proxier, today's iptables and nftables proxiers).

kube-proxy receives Services and EndpointSlices from the API server and keeps, per
ServicePortName ("namespace/name:portname" and protocol), the service's settings and the
endpoints for that port name, whatever slice they came from. No defaulting happens here:
a NodePort service whose port has no nodePort has node_port 0, load-balancer addresses are
status.loadBalancer.ingress's, as kube-proxy reads them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of one service port (EndpointSlice endpoint address + the port's number)."""
    ip: str
    port: int
    node: str | None = None         # nodeName; the endpoint is local when it is this node's
    ready: bool = True              # conditions.ready (unset counts as true, as kube-proxy)
    serving: bool = True            # conditions.serving (unset: as ready)
    terminating: bool = False       # conditions.terminating (unset: false)


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything of the Service a proxier uses."""
    namespace: str
    name: str
    port_name: str                  # "" for an unnamed port
    protocol: str                   # "TCP" | "UDP" | "SCTP", as the API spells it
    port: int
    cluster_ip: str                 # spec.clusterIP (IPv4 only)
    type: str = "ClusterIP"         # ClusterIP | NodePort | LoadBalancer
    node_port: int = 0              # 0: none
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()        # status.loadBalancer.ingress[].ip
    source_ranges: tuple[str, ...] = ()            # spec.loadBalancerSourceRanges
    external_policy_local: bool = False            # externalTrafficPolicy Local, where it applies
    internal_policy_local: bool = False            # internalTrafficPolicy Local
    affinity_seconds: int = 0                      # ClientIP affinity timeout; 0: no affinity
    health_check_node_port: int = 0                # spec.healthCheckNodePort; 0: none
    endpoints: tuple[Endpoint, ...] = ()           # in the order kube-proxy got them

    @property
    def service_port_name(self) -> str:
        """kube-proxy's ServicePortName.String(): "namespace/name:portname"."""
        return f"{self.namespace}/{self.name}:{self.port_name}"

    @property
    def proto(self) -> str:
        """The protocol in lower case, as the rules spell it."""
        return self.protocol.lower()


@dataclass(frozen=True)
class NodeConfig:
    """The node a proxier runs on and the flags it was started with."""
    name: str
    ips: tuple[str, ...]                            # the node's addresses (the first: its primary IP)
    pod_cidr: str | None = None                     # --detect-local-mode=NodeCIDR: this node's pods
    cluster_cidr: str | None = None                 # --detect-local-mode=ClusterCIDR (used if no pod_cidr)
    localhost_nodeports: bool = True                # iptables mode: NodePorts on 127.0.0.1 too
    masquerade_bit: int = 14                        # --iptables-masquerade-bit: mark 1 << bit
    node_port_addresses: tuple[str, ...] = ()       # --nodeport-addresses CIDRs; (): every local address

    @property
    def local_cidr(self) -> str | None:
        """The range whose sources count as this cluster's pods (none: every source is 'local')."""
        return self.pod_cidr or self.cluster_cidr

    @property
    def masquerade_mark(self) -> str:
        return f"{1 << self.masquerade_bit:#x}"
