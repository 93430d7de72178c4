"""The kube-dns add-on's pod as the walk-through ran it: four containers (pure).

The walk-through's `kubectl logs` names them: kubedns, dnsmasq, dnsmasq-metrics, healthz,
the add-on of Kubernetes 1.5 (cluster/addons/dns/kubedns-controller.yaml.base). Its
dnsmasq is started with the flags the later dnsmasq-nanny (1.6 to 1.12) passed it:

    kubedns          the records (netlab-kube-dns) on 127.0.0.1 and the pod IP, port 10053 UDP/TCP
    dnsmasq          the distribution's dnsmasq on :53, caching, the cluster's zone and the
                     reverse zones forwarded to kubedns (127.0.0.1#10053)
    dnsmasq-metrics  probes kubedns and dnsmasq with a DNS query every few seconds, reads
                     dnsmasq's cache counters, serves /metrics on :10054 (the later sidecar)
    healthz          exechealthz: /healthz-dnsmasq and /healthz-kubedns on :8080, each a lookup

What keeps dnsmasq inside the lab: no resolv.conf, no /etc/hosts, no configuration file
of the host's, bound to the pod's own addresses, no pid file, an unprivileged user, and
an upstream server only when the cluster names one (cluster.dnsUpstream).
"""
from __future__ import annotations

from dataclasses import dataclass

NAMES = ("kubedns", "dnsmasq", "dnsmasq-metrics", "healthz")
KUBEDNS_PORT, DNS_PORT, METRICS_PORT, HEALTHZ_PORT = 10053, 53, 10054, 8080
CACHE_SIZE = 1000
# the pod's container ports, as the add-on's manifest names them (the kubelet probes each)
CONTAINER_PORTS = {"dns-local": KUBEDNS_PORT, "dns-tcp-local": KUBEDNS_PORT, "dns": DNS_PORT,
                   "dns-tcp": DNS_PORT, "metrics": METRICS_PORT, "": HEALTHZ_PORT}
PROBE_PERIOD = 5                    # the sidecar's probe interval, seconds (the add-on's ",5,")


@dataclass(frozen=True)
class Container:
    name: str
    argv: tuple[str, ...]           # its command line, as ps shows it
    ports: tuple[tuple[str, int, str], ...]      # (name, number, protocol)
    target: str | None = None       # module:function of netlab's that runs it in place; None: exec argv
    probe: tuple[str, int] = ("tcp", 0)          # readiness: ("dns" | "tcp", port on 127.0.0.1)


def probe_name(domain: str) -> str:
    return f"kubernetes.default.svc.{domain.rstrip('.')}"


def dnsmasq_argv(domain: str, listen: list[str], user: str, upstream: str | None = None,
                 kubedns_port: int = KUBEDNS_PORT) -> list[str]:
    """dnsmasq's command line: the add-on's flags, then what keeps it inside the lab."""
    local = f"127.0.0.1#{kubedns_port}"
    argv = ["dnsmasq", "-k", f"--cache-size={CACHE_SIZE}", "--no-negcache", "--log-facility=-",
            f"--server=/{domain.rstrip('.')}/{local}", f"--server=/in-addr.arpa/{local}",
            f"--server=/ip6.arpa/{local}",
            "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
            *(f"--listen-address={a}" for a in listen), f"--port={DNS_PORT}", f"--user={user}", "--pid-file="]
    if upstream:                    # IP[:port] -> IP#port: every other name goes there
        host, _, port = upstream.partition(":")
        argv.append(f"--server={host}#{port or 53}")
    return argv


def containers(domain: str, pod_ip: str, user: str, upstream: str | None = None,
               notify_fd: int | None = None) -> list[Container]:
    """The pod's four containers, in the add-on's order. notify_fd: where kubedns writes
    a byte when its records change (the pod's runtime then clears dnsmasq's cache)."""
    name = probe_name(domain)
    listen = ["127.0.0.1"] + ([pod_ip] if pod_ip and pod_ip != "127.0.0.1" else [])
    kubedns = ["netlab-kube-dns", f"--domain={domain.rstrip('.')}.", f"--dns-port={KUBEDNS_PORT}"]
    if notify_fd is not None:
        kubedns.append(f"--notify-fd={notify_fd}")
    probes = [f"--probe={what},127.0.0.1:{port},{name},{PROBE_PERIOD},A"
              for what, port in (("kubedns", KUBEDNS_PORT), ("dnsmasq", DNS_PORT))]
    return [
        Container("kubedns", tuple(kubedns),
                  (("dns-local", KUBEDNS_PORT, "UDP"), ("dns-tcp-local", KUBEDNS_PORT, "TCP")),
                  "netlab.dns.server:main", ("dns", KUBEDNS_PORT)),
        Container("dnsmasq", tuple(dnsmasq_argv(domain, listen, user, upstream)),
                  (("dns", DNS_PORT, "UDP"), ("dns-tcp", DNS_PORT, "TCP")), None, ("dns", DNS_PORT)),
        Container("dnsmasq-metrics", ("netlab-dnsmasq-metrics", "--v=2", "--logtostderr", *probes,
                                      f"--port={METRICS_PORT}"),
                  (("metrics", METRICS_PORT, "TCP"),), "netlab.dns.sidecar:metrics_main", ("tcp", METRICS_PORT)),
        Container("healthz", ("netlab-exechealthz",
                              f"--cmd=nslookup {name} 127.0.0.1 >/dev/null", "--url=/healthz-dnsmasq",
                              f"--cmd=nslookup {name} 127.0.0.1:{KUBEDNS_PORT} >/dev/null", "--url=/healthz-kubedns",
                              f"--port={HEALTHZ_PORT}", "--quiet"),
                  (("", HEALTHZ_PORT, "TCP"),), "netlab.dns.sidecar:healthz_main", ("tcp", HEALTHZ_PORT)),
    ]
