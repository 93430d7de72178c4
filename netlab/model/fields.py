"""Checking what users give netlab, one way for every input: topology files, manifests and
the state a lab keeps.

A Reader takes one document apart field by field: types, required fields, and fields it does
not know (an error in netlab's own files, a warning in Kubernetes manifests, which may hold
what netlab does not implement). The checks below say what is wrong with one value, in the
same words wherever the value comes from; `problem` is None when it is right. Every problem
is one ModelError line, `[where: ]path: what is wrong`.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import NoReturn

from netlab.errors import ModelError
from netlab.model import names


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def fail(path: str, problem: str) -> NoReturn:
    raise ModelError(f"{path}: {problem}")


def check(path: str, problem: str | None) -> None:
    if problem:
        fail(path, problem)


class Reader:
    """One document being read: raises its errors with their place, collects its warnings.
    `strict`: a field it does not know is an error (netlab's own files), else a warning;
    `reasons` says why netlab ignores some of them."""

    def __init__(self, where: str, doc: dict, strict: bool = False, reasons: Mapping[str, str] | None = None):
        self.where, self.doc, self.strict, self.reasons = where, doc, strict, reasons or {}
        self.unknown: list[str] = []            # fields netlab does not know
        self.notes: list[str] = []              # every warning, without the document's place

    @property
    def warnings(self) -> list[str]:
        return [f"{self.where}: {n}" if self.where else n for n in self.notes]

    def warn(self, note: str) -> None:
        self.notes.append(note)

    def fail(self, path: str, problem: str) -> NoReturn:
        raise ModelError(f"{self.where}: {path}: {problem}" if self.where else f"{path}: {problem}")

    def check(self, path: str, problem: str | None) -> None:
        if problem:
            self.fail(path, problem)

    def get(self, obj: dict, key: str, path: str, kind, default=None, required=False):
        """obj[key], of type `kind` (a type or a tuple of them); absent or null: `default`."""
        value = obj.get(key, default) if isinstance(obj, dict) else default
        where = join(path, key)
        if value is None:
            if required:
                self.fail(where, "required field is missing")
            return default
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names_ = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(where, f"{value!r} must be a {names_}")
        return value

    def mapping(self, obj, path: str) -> dict:
        if not isinstance(obj, dict):
            self.fail(path, f"must be a mapping, got {type(obj).__name__}")
        return obj

    def items(self, obj: dict, key: str, path: str):
        """(index, mapping, its path) for each item of a list of mappings."""
        for i, item in enumerate(self.get(obj, key, path, list, [])):
            ipath = f"{join(path, key)}[{i}]"
            if not isinstance(item, dict):
                self.fail(ipath, "must be a mapping")
            yield i, item, ipath

    def known(self, obj: dict, allowed: Collection[str], path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.ignored(join(path, key), allowed, f": {self.reasons[key]}" if key in self.reasons else "")

    def ignored(self, path: str, allowed: Collection[str], why: str = "") -> None:
        """The field at `path` is none of `allowed`: refused, or ignored with a warning."""
        if self.strict:
            listed = sorted(allowed) if isinstance(allowed, (set, frozenset)) else allowed
            self.fail(path, f"unknown field (known: {', '.join(listed)})")
        self.unknown.append(path)
        self.warn(f"{path} is not implemented by netlab and was ignored{why}")

    def fields(self, obj, schema: Mapping[str, tuple[str, type, bool]], path: str) -> dict:
        """A mapping read by a table, field -> (attribute, type, required): attribute -> value
        for the fields given."""
        self.known(self.mapping(obj, path), schema, path)
        out = {}
        for key, (attr, kind, required) in schema.items():
            value = self.get(obj, key, path, kind, required=required)
            if value is not None:
                out[attr] = value
        return out


# ---------------------------------------------------------------- one value

def dns1123(value, label: bool = False) -> str | None:
    ok = isinstance(value, str) and (names.is_dns1123_label(value) if label else names.is_dns1123_subdomain(value))
    if ok:
        return None
    kind, chars = ("label", "'-'") if label else ("subdomain", "'-' and '.'")
    return (f"{value!r} is not a valid DNS-1123 {kind} (lower case letters, digits, {chars}, "
            "starting and ending alphanumeric)")


def service_name(value) -> str | None:
    """A Service's name becomes a DNS name: a DNS-1035 label."""
    if isinstance(value, str) and names.is_dns1035_label(value):
        return None
    return (f"{value!r} is not a valid service name (a DNS-1035 label: lower case letters, digits "
            "and '-', starting with a letter)")


def port_number(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return None
    return f"{value!r} must be between 1 and 65535, inclusive"


def port_name(value) -> str | None:
    if isinstance(value, str) and names.is_port_name(value):
        return None
    return (f"{value!r} is not a valid port name (at most 15 lower case letters, digits and '-', "
            "with at least one letter)")


def ipv4(value) -> str | None:
    try:
        IPv4Address(value if isinstance(value, str) else "")
    except ValueError:
        return f"{value!r} is not an IPv4 address" + (" (the lab is IPv4 only)" if _is_ip(value) else "")
    return None


def _is_ip(value) -> bool:
    try:
        ip_address(value if isinstance(value, str) else "")
    except ValueError:
        return False
    return True


_LINK_LOCAL_MULTICAST = IPv4Network("224.0.0.0/24")


def endpoint_ip(value) -> str | None:
    """An address connections are sent to (an endpoint, an external IP): IPv4, and none of the
    ranges Kubernetes' ValidateNonSpecialIP refuses, nor any multicast group (kube-proxy sends
    a connection to one address, which a group is not)."""
    problem = ipv4(value)
    if problem:
        return problem
    addr = IPv4Address(value)
    if addr.is_unspecified:
        return f"{value} may not be unspecified (0.0.0.0)"
    if addr.is_loopback:
        return f"{value} may not be in the loopback range (127.0.0.0/8)"
    if addr.is_link_local:
        return f"{value} may not be in the link-local range (169.254.0.0/16)"
    if addr in _LINK_LOCAL_MULTICAST:
        return f"{value} may not be in the link-local multicast range (224.0.0.0/24)"
    if addr.is_multicast:
        return f"{value} may not be in the multicast range (224.0.0.0/4): a connection goes to one address"
    return None
