"""The cluster zone as the Kubernetes DNS specification defines it (pure).

github.com/kubernetes/dns docs/specification.md: the schema-version TXT record; for a
ClusterIP service an A, an SRV per named port and a PTR; for a headless service an A
per ready endpoint, one per endpoint hostname, SRV per endpoint and named port, PTRs;
ExternalName as a CNAME; the (deprecated but required) `a-b-c-d.<ns>.pod.<zone>` A
records. Pods also get PTRs to that name, as CoreDNS gives them.

A zone is {owner name: {type: [rdata text]}}, names lower case and absolute.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import cast

from netlab.model.objects import Cluster

SCHEMA_VERSION = "1.0.1"
TTL = 5                  # seconds; short so that changes show quickly, as CoreDNS's default
_POD_NAME = re.compile(r"^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$")


@dataclass
class Zone:
    domain: str                                              # "cluster.local."
    records: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    reverse: list[str] = field(default_factory=list)         # reverse zones we answer for

    def add(self, name: str, rtype: str, rdata: str) -> None:
        rdatas = self.records.setdefault(name.lower(), {}).setdefault(rtype, [])
        if rdata not in rdatas:
            rdatas.append(rdata)

    def served(self, name: str) -> bool:
        """Is `name` ours to answer (the cluster zone or a reverse zone of the lab)?"""
        name = name.lower()
        return any(name == z or name.endswith("." + z) for z in [self.domain, *self.reverse])

    def exists(self, name: str) -> bool:
        """True for owners of records and for names between them and the zone (empty
        non-terminals such as svc.cluster.local.): those answer NODATA, not NXDOMAIN."""
        name = name.lower()
        return any(owner == name or owner.endswith("." + name) for owner in self.records)

    def lookup(self, name: str, rtype: str) -> list[str]:
        return self.records.get(name.lower(), {}).get(rtype, [])

    def pod_a(self, name: str) -> str | None:
        """`a-b-c-d.<ns>.pod.<zone>` -> a.b.c.d: the specification keeps these (deprecated)
        records for any address, whether or not a pod has it."""
        labels = name.lower().rstrip(".").split(".")
        if len(labels) < 4 or labels[2] != "pod" or ".".join(labels[3:]) + "." != self.domain:
            return None
        m = _POD_NAME.match(labels[0])
        if not m or any(int(x) > 255 for x in m.groups()):
            return None
        return ".".join(str(int(x)) for x in m.groups())


def ptr_name(ip: str) -> str:
    return ip_address(ip).reverse_pointer + "."


def reverse_zone(cidr: str) -> str:
    """The in-addr.arpa zone covering a network, on whole octets (10.254.0.0/16 -> 254.10.in-addr.arpa.)."""
    net = ip_network(cidr)
    octets = str(net.network_address).split(".")[: net.prefixlen // 8]
    return ".".join(reversed(octets)) + ".in-addr.arpa."


def endpoint_hostname(address) -> str:
    """The endpoint's hostname field, else a unique name made from its address (as CoreDNS does)."""
    return address.hostname or address.ip.replace(".", "-")


def build(c: Cluster) -> Zone:
    domain = c.dns_domain.rstrip(".").lower() + "."
    z = Zone(domain, reverse=[reverse_zone(c.service_cidr), reverse_zone(c.cluster_cidr)])
    z.add(f"dns-version.{domain}", "TXT", f'"{SCHEMA_VERSION}"')
    z.add(domain, "SOA", f"ns.dns.{domain} hostmaster.{domain} 1 7200 1800 86400 {TTL}")
    z.add(domain, "NS", f"ns.dns.{domain}")
    endpoints = {(e.namespace, e.name): e for e in c.endpoints}
    for svc in c.services:
        fqdn = f"{svc.name}.{svc.namespace}.svc.{domain}"
        if svc.type == "ExternalName":
            external = cast(str, svc.external_name)   # validation requires it of an ExternalName service
            z.add(fqdn, "CNAME", external.rstrip(".") + ".")
            continue
        if svc.cluster_ip and svc.cluster_ip != "None":
            z.add(fqdn, "A", svc.cluster_ip)
            z.add(ptr_name(svc.cluster_ip), "PTR", fqdn)
            for port in svc.ports:
                if port.name:
                    z.add(f"_{port.name}._{port.protocol.lower()}.{fqdn}", "SRV", f"0 100 {port.port} {fqdn}")
            continue
        # headless: the ready endpoints themselves
        ep = endpoints.get((svc.namespace, svc.name))
        for a in (ep.addresses if ep else []):
            if not a.ready:
                continue
            host = f"{endpoint_hostname(a)}.{fqdn}"
            z.add(fqdn, "A", a.ip)
            z.add(host, "A", a.ip)
            z.add(ptr_name(a.ip), "PTR", host)
            for ep_port in (ep.ports if ep else []):
                if ep_port.name:
                    z.add(f"_{ep_port.name}._{ep_port.protocol.lower()}.{fqdn}", "SRV",
                          f"0 100 {ep_port.port} {host}")
    for pod in c.pods:
        if not z.lookup(ptr_name(pod.ip), "PTR"):
            z.add(ptr_name(pod.ip), "PTR", f"{pod.ip.replace('.', '-')}.{pod.namespace}.pod.{domain}")
    return z


@dataclass
class Answer:
    rcode: str                                             # NOERROR NXDOMAIN REFUSED
    answer: list[tuple[str, str, str]] = field(default_factory=list)      # (name, type, rdata)
    authority: list[tuple[str, str, str]] = field(default_factory=list)


def resolve(z: Zone, qname: str, qtype: str) -> Answer:
    """What an authoritative server for the zone answers; never recursion."""
    name = qname.lower()
    if not name.endswith("."):
        name += "."
    if not z.served(name):
        return Answer("REFUSED")
    out = Answer("NOERROR")
    for _ in range(8):                         # follow CNAMEs that stay inside the zone
        cname = z.lookup(name, "CNAME")
        if cname and qtype != "CNAME":
            out.answer.append((name, "CNAME", cname[0]))
            if not z.served(cname[0]):
                return out
            name = cname[0]
            continue
        break
    types = [t for t in z.records.get(name, {}) if qtype == "ANY" or t == qtype]
    for t in types:
        out.answer += [(name, t, rdata) for rdata in z.lookup(name, t)]
    pod = z.pod_a(name)
    if pod and qtype in ("A", "ANY"):
        out.answer.append((name, "A", pod))
    if out.answer:
        return out
    soa = (z.domain, "SOA", z.lookup(z.domain, "SOA")[0])
    if z.exists(name) or pod:
        return Answer("NOERROR", authority=[soa])          # NODATA: the name is there, not this type
    return Answer("NXDOMAIN", authority=[soa])
