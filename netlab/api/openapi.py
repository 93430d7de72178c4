"""The OpenAPI v3 documents kubectl asks for (pure): per group version, its paths and the
operations each takes, so that kubectl knows the server validates fields itself
(`fieldValidation` on create, update and patch) and leaves `kubectl apply` to it.

The schemas are loose (any object): netlab's own reader checks the fields and names the wrong
one (422). They carry no group-version-kind, so kubectl computes apply's strategic merge
patches from the Kubernetes types it is built with, whose merge keys netlab.api.patch follows.
"""
from __future__ import annotations

import hashlib
import json

from netlab.api.resources import RESOURCES, VERSION, Resource

_PARAM = {"in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _path(gv: tuple[str, str]) -> str:
    group, version = gv
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(r: Resource, action: str, fields: bool) -> dict:
    out: dict = {"x-kubernetes-action": action,
                 "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                 "responses": {"200": {"description": "OK"}}}
    names = ["dryRun", "fieldManager"] + (["fieldValidation"] if fields else [])
    out["parameters"] = [{"name": n, **_PARAM} for n in names]
    return out


def document(group: str, version: str) -> dict | None:
    """/openapi/v3/api/v1, /openapi/v3/apis/GROUP/VERSION; None: no such group version."""
    found = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not found:
        return None
    paths: dict[str, dict] = {}
    for r in found:
        base = f"/{_path((group, version))}/" + ("namespaces/{namespace}/" if r.namespaced else "") + r.name
        paths[base] = {"get": _operation(r, "list", False)}
        paths[base + "/{name}"] = {"get": _operation(r, "get", False)}
        if r.writable:
            paths[base]["post"] = _operation(r, "post", True)
            paths[base + "/{name}"].update(put=_operation(r, "put", True), patch=_operation(r, "patch", True),
                                           delete=_operation(r, "delete", False))
    schemas = {f"netlab.{r.group or 'core'}.{r.version}.{r.kind}": {"type": "object",
                                                                    "additionalProperties": True}
               for r in found}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": schemas}}


def index() -> dict:
    """/openapi/v3: each group version's document, at a URL naming its hash (clients cache by it)."""
    out = {}
    for gv in dict.fromkeys((r.group, r.version) for r in RESOURCES):
        digest = hashlib.sha512(json.dumps(document(*gv), sort_keys=True).encode()).hexdigest()[:32].upper()
        out[_path(gv)] = {"serverRelativeURL": f"/openapi/v3/{_path(gv)}?hash={digest}"}
    return {"paths": out}
