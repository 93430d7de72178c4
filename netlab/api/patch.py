"""The patches the API server takes (pure): JSON merge patch (RFC 7386) and strategic merge
patch, as kubectl apply and kubectl edit send them, for the fields netlab implements.

A strategic merge patch is a merge patch whose lists of objects are merged element by element,
matched by their merge key (a container by its name, a Service's port by its number), as the
Kubernetes types declare them; the other lists are replaced. Its directives: `$patch: delete`
(an element or a map goes), `$patch: replace` (a map or list replaced, not merged),
`$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
"""
from __future__ import annotations

import copy
from typing import Any

# list field -> merge key, as the Kubernetes types tag them (patchMergeKey). "ports" is a
# container's (containerPort) except in a Service's spec (port).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
              "imagePullSecrets": "name", "hostAliases": "ip", "ports": "containerPort",
              "ownerReferences": "uid", "conditions": "type"}
SERVICE_PORTS = ("spec", "ports")
# primitive lists merged as sets (patchStrategy merge), not replaced
MERGED_PRIMITIVES = {"finalizers"}


class PatchError(ValueError):
    """A patch that cannot be applied: its message names the place."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a map merges key by key (null deletes), anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def merge_key(kind: str, path: tuple[str, ...]) -> str | None:
    """The merge key of the list at `path` (field names from the object's top), None: replaced."""
    name = path[-1]
    if name == "ports" and kind == "Service" and path == SERVICE_PORTS:
        return "port"
    if name == "ports" and len(path) >= 2 and path[-2] not in ("containers", "initContainers"):
        return None             # a NetworkPolicy rule's, an EndpointSlice's: atomic lists
    return MERGE_KEYS.get(name)


def strategic_merge(kind: str, target: dict, patch: dict) -> dict:
    """`patch` applied to `target` (a `kind` object as the API serves it)."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _map(kind, (), target if isinstance(target, dict) else {}, patch)


def _map(kind: str, path: tuple[str, ...], target: dict, patch: dict) -> dict:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    if directive is not None:
        raise PatchError(f"{_where(path)}: unknown $patch directive {directive!r}")
    out = copy.deepcopy(target)
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            gone = value if isinstance(value, list) else []
            out[field] = [x for x in out.get(field) or [] if x not in gone]
        elif key == "$retainKeys":
            continue
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            inner = out.get(key)
            out[key] = _map(kind, path + (key,), inner if isinstance(inner, dict) else {}, value)
        elif isinstance(value, list):
            out[key] = _list(kind, path + (key,), out.get(key), value)
        else:
            out[key] = value
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _ordered(kind, path + (field,), out[field], order)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _list(kind: str, path: tuple[str, ...], target: Any, patch: list) -> list:
    key = merge_key(kind, path)
    current = target if isinstance(target, list) else []
    if patch and isinstance(patch[-1], dict) and patch[-1].get("$patch") == "replace":
        return copy.deepcopy(patch[:-1])
    if path[-1] in MERGED_PRIMITIVES:
        return current + [x for x in patch if x not in current]
    if key is None or not all(isinstance(x, dict) for x in patch):
        return copy.deepcopy(patch)
    out = copy.deepcopy(current)
    for element in patch:
        if key not in element:
            raise PatchError(f"{_where(path)}: an element of the list has no merge key {key!r}")
        at = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == element[key]), None)
        if element.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append({k: v for k, v in copy.deepcopy(element).items() if not k.startswith("$")})
        else:
            out[at] = _map(kind, path, out[at], element)
    return out


def _ordered(kind: str, path: tuple[str, ...], items: list, order: list) -> list:
    """`items` in the order `$setElementOrder` gives (the others after them, as they were)."""
    key = merge_key(kind, path)
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [ident(o) if isinstance(o, dict) else o for o in order]
    ranked = sorted(items, key=lambda x: wanted.index(ident(x)) if ident(x) in wanted else len(wanted))
    return ranked


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "(the object)"
