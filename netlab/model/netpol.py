"""networking.k8s.io/v1 NetworkPolicy manifests -> model objects, checked as the API server
checks them (one line per problem, naming the field). Pure."""
from __future__ import annotations

from ipaddress import IPv4Network, ip_network

from netlab.model import fields, selectors
from netlab.model.fields import Reader
from netlab.model.objects import IPBlock, NetworkPolicy, PolicyPeer, PolicyPort, PolicyRule

POLICY_TYPES = ("Ingress", "Egress")
PROTOCOLS = ("TCP", "UDP", "SCTP")
KNOWN = {
    "spec": ("podSelector", "policyTypes", "ingress", "egress"),
    "ingress": ("from", "ports"),
    "egress": ("to", "ports"),
    "peer": ("podSelector", "namespaceSelector", "ipBlock"),
    "ipBlock": ("cidr", "except"),
    "port": ("protocol", "port", "endPort"),
}


def read(d: Reader, name: str, namespace: str, labels: dict[str, str]) -> NetworkPolicy:
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, KNOWN["spec"], "spec")
    if "podSelector" not in spec:
        d.fail("spec.podSelector", "required field is missing ({} selects every pod of the namespace)")
    pod_selector = selectors.read(d, spec["podSelector"] or {}, "spec.podSelector")
    ingress = [_rule(d, r, p, "from") for _, r, p in d.items(spec, "ingress", "spec")]
    egress = [_rule(d, r, p, "to") for _, r, p in d.items(spec, "egress", "spec")]
    types = d.get(spec, "policyTypes", "spec", list, [])
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            d.fail(f"spec.policyTypes[{i}]", f"{t!r} is not one of Ingress, Egress")
    if len(set(types)) != len(types):
        d.fail("spec.policyTypes", f"{types} names a type twice")
    if not types:       # the API server's default: Ingress always, Egress when there are egress rules
        types = ["Ingress"] + (["Egress"] if egress else [])
    return NetworkPolicy(name, namespace, pod_selector, list(types), ingress, egress, labels)


def _rule(d: Reader, rule: dict, path: str, peers_key: str) -> PolicyRule:
    d.known(rule, KNOWN["ingress" if peers_key == "from" else "egress"], path)
    peers = [_peer(d, p, ppath) for _, p, ppath in d.items(rule, peers_key, path)]
    ports = [_port(d, p, ppath) for _, p, ppath in d.items(rule, "ports", path)]
    return PolicyRule(peers, ports)


def _peer(d: Reader, peer: dict, path: str) -> PolicyPeer:
    d.known(peer, KNOWN["peer"], path)
    given = [k for k in KNOWN["peer"] if peer.get(k) is not None]
    if not given:
        d.fail(path, "must give podSelector, namespaceSelector or ipBlock")
    if "ipBlock" in given and len(given) > 1:
        d.fail(path, "ipBlock may not be combined with podSelector or namespaceSelector")
    if "ipBlock" in given:
        return PolicyPeer(ip_block=_ip_block(d, d.get(peer, "ipBlock", path, dict), f"{path}.ipBlock"))
    pods = selectors.read(d, peer["podSelector"], f"{path}.podSelector") if "podSelector" in given else None
    namespaces = (selectors.read(d, peer["namespaceSelector"], f"{path}.namespaceSelector")
                  if "namespaceSelector" in given else None)
    return PolicyPeer(pods, namespaces)


def _network(d: Reader, value, path: str) -> IPv4Network:
    if not isinstance(value, str):
        d.fail(path, f"{value!r} must be a str (a CIDR such as 192.168.0.0/24)")
    try:
        net = ip_network(value, strict=True)
    except ValueError as e:
        d.fail(path, f"{value!r} is not a valid CIDR ({e})")
    if not isinstance(net, IPv4Network):
        d.fail(path, f"{value!r} is not an IPv4 CIDR (the lab is IPv4 only)")
    return net


def _ip_block(d: Reader, block: dict, path: str) -> IPBlock:
    d.known(block, KNOWN["ipBlock"], path)
    cidr = _network(d, d.get(block, "cidr", path, str, required=True), f"{path}.cidr")
    excepts = []
    for i, e in enumerate(d.get(block, "except", path, list, [])):
        net = _network(d, e, f"{path}.except[{i}]")
        if not net.subnet_of(cidr):
            d.fail(f"{path}.except[{i}]", f"{e!r} must be within the cidr {cidr}")
        excepts.append(str(net))
    return IPBlock(str(cidr), excepts)


def _port(d: Reader, port: dict, path: str) -> PolicyPort:
    d.known(port, KNOWN["port"], path)
    protocol = d.get(port, "protocol", path, str, "TCP")
    if protocol not in PROTOCOLS:
        d.fail(f"{path}.protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
    number = d.get(port, "port", path, (int, str))
    if isinstance(number, str):
        d.check(f"{path}.port", fields.port_name(number))
    if isinstance(number, int):
        d.check(f"{path}.port", fields.port_number(number))
    end = d.get(port, "endPort", path, int)
    if end is not None:
        if number is None or isinstance(number, str):
            d.fail(f"{path}.endPort", "may only be given with a numeric port")
        if end < number:
            d.fail(f"{path}.endPort", f"{end} must be greater than or equal to port {number}")
        d.check(f"{path}.endPort", fields.port_number(end))
    return PolicyPort(protocol, number, end)
