"""Label selectors (metav1.LabelSelector): reading them from manifests, matching labels, and
the text kubectl prints for them. Pure."""
from __future__ import annotations

import re

from netlab.model.fields import Reader
from netlab.model.objects import LabelSelector, Requirement

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def key_problem(key) -> str | None:
    """A label key as the API server checks it: [prefix/]name, name at most 63 characters."""
    if isinstance(key, str):
        prefix, _, name = key.rpartition("/")
        if _NAME.match(name) and (not prefix or (len(prefix) <= 253 and _PREFIX.match(prefix))):
            return None
    return (f"{key!r} is not a valid label key (an optional DNS subdomain prefix and '/', then at most 63 "
            "letters, digits, '-', '_' or '.', starting and ending alphanumeric)")


def value_problem(value) -> str | None:
    if isinstance(value, str) and (value == "" or _NAME.match(value)):
        return None
    return (f"{value!r} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending alphanumeric, or empty)")


def read(d: Reader, obj, path: str) -> LabelSelector:
    """A selector at `path` (a mapping with matchLabels and matchExpressions)."""
    d.mapping(obj, path)
    d.known(obj, ("matchLabels", "matchExpressions"), path)
    labels = {}
    for k, v in (d.get(obj, "matchLabels", path, dict, {}) or {}).items():
        d.check(f"{path}.matchLabels", key_problem(k))
        value = str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        d.check(f"{path}.matchLabels[{k}]", value_problem(value))
        labels[k] = value
    expressions = []
    for _, e, epath in d.items(obj, "matchExpressions", path):
        d.known(e, ("key", "operator", "values"), epath)
        key = d.get(e, "key", epath, str, required=True)
        d.check(f"{epath}.key", key_problem(key))
        op = d.get(e, "operator", epath, str, required=True)
        if op not in OPERATORS:
            d.fail(f"{epath}.operator", f"{op!r} is not one of {', '.join(OPERATORS)}")
        values = d.get(e, "values", epath, list, [])
        if op in ("In", "NotIn") and not values:
            d.fail(f"{epath}.values", f"must be specified when operator is {op}")
        if op in ("Exists", "DoesNotExist") and values:
            d.fail(f"{epath}.values", f"may not be specified when operator is {op}")
        for i, v in enumerate(values):
            d.check(f"{epath}.values[{i}]", value_problem(v))
        expressions.append(Requirement(key, op, [str(v) for v in values]))
    return LabelSelector(labels, expressions)


def matches(sel: LabelSelector, labels: dict[str, str]) -> bool:
    """Does a set of labels satisfy the selector? An empty selector matches everything."""
    if any(labels.get(k) != v for k, v in sel.match_labels.items()):
        return False
    for r in sel.match_expressions:
        present = r.key in labels
        if r.operator == "In" and not (present and labels[r.key] in r.values):
            return False
        if r.operator == "NotIn" and present and labels[r.key] in r.values:
            return False
        if r.operator == "Exists" and not present:
            return False
        if r.operator == "DoesNotExist" and present:
            return False
    return True


def text(sel: LabelSelector | None) -> str:
    """As kubectl prints a selector: `app=db,tier in (a,b)`; `<none>` when it is empty."""
    if sel is None:
        return "<none>"
    parts = [(k, f"{k}={v}") for k, v in sel.match_labels.items()]
    for r in sel.match_expressions:
        values = ",".join(sorted(r.values))
        parts.append((r.key, {"In": f"{r.key} in ({values})", "NotIn": f"{r.key} notin ({values})",
                              "Exists": r.key, "DoesNotExist": f"!{r.key}"}[r.operator]))
    # by key, as labels.Selector prints them
    return ",".join(t for _, t in sorted(parts, key=lambda kt: kt[0])) or "<none>"


def canonical(sel: LabelSelector) -> str:
    """One spelling per meaning (for naming the ipset that holds a selector's pods)."""
    exprs = sorted((r.key, r.operator, tuple(sorted(r.values))) for r in sel.match_expressions)
    return repr((sorted(sel.match_labels.items()), exprs))
