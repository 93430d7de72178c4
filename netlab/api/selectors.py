"""labelSelector and fieldSelector as the API server reads them (pure).

Label selectors: requirements separated by commas, each `key`, `!key`, `key=value`,
`key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>N`, `key<N`.
Field selectors: `field=value`, `field==value`, `field!=value`, separated by commas, on the
fields a kind supports (see resources.FIELDS).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class SelectorError(ValueError):
    """A selector the API server refuses (400 BadRequest)."""


# a qualified name with an optional DNS-subdomain prefix (example.com/name), and a label value
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str                 # = != in notin exists !exists gt lt
    values: tuple[str, ...] = field(default=())

    def matches(self, labels: dict[str, str]) -> bool:
        have = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return have
        if self.op == "!exists":
            return not have
        if self.op in ("=", "in"):
            return have and value in self.values
        if self.op in ("!=", "notin"):
            return not have or value not in self.values
        try:
            number = int(value or "")
        except ValueError:
            return False
        return number > int(self.values[0]) if self.op == "gt" else number < int(self.values[0])


def _split(text: str) -> list[str]:
    """Requirements: commas outside parentheses part them."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > 1:
                raise SelectorError(f"unable to parse requirement: nested parentheses in {text!r}")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unable to parse requirement: unbalanced parentheses in {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise SelectorError(f"unable to parse requirement: unbalanced parentheses in {text!r}")
    return parts + [text[start:]]


def _key(key: str, whole: str) -> str:
    if not _KEY.match(key) or len(key.rpartition("/")[2]) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r} in {whole!r}")
    return key


def _value(value: str, whole: str) -> str:
    if not _VALUE.match(value) or len(value) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label value {value!r} in {whole!r}")
    return value


_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<value>[^=!<>\s]*)$")


def parse_labels(text: str | None) -> list[Requirement]:
    """A labelSelector's requirements (all must hold); empty or None selects everything."""
    if not text or not text.strip():
        return []
    out = []
    for part in _split(text):
        req = part.strip()
        if not req:
            raise SelectorError(f"unable to parse requirement: empty requirement in {text!r}")
        if m := _SET.match(req):
            values = tuple(v.strip() for v in m["values"].split(","))
            values = tuple(_value(v, text) for v in values if v) if values != ("",) else ()
            if not values:
                raise SelectorError(f"unable to parse requirement: {m['op']} needs at least one value in {text!r}")
            out.append(Requirement(_key(m["key"], text), m["op"], values))
        elif m := _EQ.match(req):
            op = {"==": "=", ">": "gt", "<": "lt"}.get(m["op"], m["op"])
            value = m["value"]
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise SelectorError(f"unable to parse requirement: {m['op']} needs a whole number in {text!r}")
            out.append(Requirement(_key(m["key"], text), op, (_value(value, text),)))
        elif req.startswith("!"):
            out.append(Requirement(_key(req[1:].strip(), text), "!exists"))
        elif " " not in req:
            out.append(Requirement(_key(req, text), "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {req!r} in {text!r}")
    return out


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    return all(r.matches(labels or {}) for r in reqs)


@dataclass(frozen=True)
class FieldRequirement:
    path: str               # metadata.name, spec.nodeName, ...
    equal: bool
    value: str


def parse_fields(text: str | None, supported: tuple[str, ...]) -> list[FieldRequirement]:
    """A fieldSelector's requirements; a field outside `supported` is refused, as the API server does."""
    if not text or not text.strip():
        return []
    out = []
    for part in text.split(","):
        req = part.strip()
        m = re.fullmatch(r"(?P<field>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)", req)
        if not m:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {req!r}")
        if m["field"] not in supported:
            raise SelectorError(f'field label not supported: {m["field"]}')
        out.append(FieldRequirement(m["field"], m["op"] != "!=", m["value"].strip()))
    return out


# field labels that name another path of the object (an Event's source is its source.component)
ALIASES = {"source": "source.component"}


def field_value(obj: dict, path: str) -> str:
    value: object = obj
    for part in ALIASES.get(path, path).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def fields_match(reqs: list[FieldRequirement], obj: dict) -> bool:
    return all((field_value(obj, r.path) == r.value) == r.equal for r in reqs)
