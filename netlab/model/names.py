"""Kubernetes-shaped names: DNS-1123, DNS-1035 and port name checks, and deployment pod names."""
from __future__ import annotations

import hashlib
import re

# The alphabet Kubernetes uses for generated suffixes (no vowels, no look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(_LABEL.match(name))


def is_dns1035_label(name: str) -> bool:
    """A Service's name: a DNS-1123 label that starts with a letter (it becomes a DNS name)."""
    return is_dns1123_label(name) and name[:1].isalpha()


_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def is_port_name(name: str) -> bool:
    """An IANA service name, as a port's name must be: at most 15 characters, one a letter."""
    return len(name) <= 15 and bool(_PORT_NAME.match(name)) and "--" not in name and any(c.isalpha() for c in name)


def is_dns1123_subdomain(name: str) -> bool:
    return 0 < len(name) <= 253 and all(is_dns1123_label(p) for p in name.split("."))


def template_hash(lab: str, namespace: str, deployment: str) -> str:
    """The 10 hex characters Kubernetes puts between deployment and pod suffix."""
    return hashlib.sha256(f"{lab}/{namespace}/{deployment}".encode()).hexdigest()[:10]


def pod_suffix(lab: str, namespace: str, deployment: str, ordinal: int) -> str:
    digest = hashlib.sha256(f"{lab}/{namespace}/{deployment}/{ordinal}".encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:5])


def pod_name(deployment: str, template: str, suffix: str) -> str:
    return f"{deployment}-{template}-{suffix}"


def host_port(ip: str, port: int | str) -> str:
    """Go's net.JoinHostPort: IPv6 addresses are bracketed."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
