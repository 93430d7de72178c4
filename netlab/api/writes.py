"""The API's writes: create, update, patch, delete and the scale subresource, each checked as
`netlab apply` checks it (the same manifest reader and admission, so the same messages), then
made by netlab.api.writer in a process of its own, the way `netlab apply` makes it: through
Lab.update, its controllers and the kernel. Nothing here changes the lab itself.

Errors are Status objects with the API server's codes: 404 NotFound, 409 AlreadyExists or
Conflict, 422 Invalid with the field named in its causes, 400 BadRequest for a malformed body.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import time
import weakref

import yaml

from netlab.api import objects, patch, resources
from netlab.api.objects import Item
from netlab.api.resources import Resource
from netlab.api.store import Store
from netlab.errors import ModelError
from netlab.model import control_plane, manifests, store
from netlab.model.objects import Cluster

WRITE_TIMEOUT = 300.0           # a change's pods may take their grace periods to stop
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"


class APIError(Exception):
    def __init__(self, status: dict):
        super().__init__(status["message"])
        self.status = status


def bad(message: str) -> APIError:
    return APIError(resources.status(400, message))


def _details(r: Resource, name: str) -> dict:
    return {"name": name, **({"group": r.group} if r.group else {}), "kind": r.name}


_FIELD = re.compile(r"^[a-z][A-Za-z0-9]*(\[[^\]]*\]|\.[A-Za-z0-9$/_-]+)*$")


def invalid(r: Resource, name: str, error: str) -> APIError:
    """422 from one of netlab's one-line messages ("where: field: problem"): the field as its
    cause, which kubectl prints as the API server's: The Service "x" is invalid: field: ..."""
    parts = error.split(": ")
    at = next((i for i, part in enumerate(parts[:-1]) if _FIELD.match(part)), None)
    field, problem = (parts[at], ": ".join(parts[at + 1:])) if at is not None else ("", error)
    cause = {"reason": "FieldValueInvalid", "message": f"Invalid value: {problem}",
             **({"field": field} if field else {})}
    said = f"{field}: Invalid value: {problem}" if field else problem
    details = {"name": name, **({"group": r.group} if r.group else {}), "kind": r.kind, "causes": [cause]}
    return APIError(resources.status(422, f'{r.kind} "{name}" is invalid: {said}', details, "Invalid"))


def not_found(r: Resource, name: str) -> APIError:
    return APIError(resources.not_found(r, name))


def _conflict(r: Resource, name: str) -> APIError:
    return APIError(resources.status(
        409, f'Operation cannot be fulfilled on {r.qualified} "{name}": the object has been modified; '
             f"please apply your changes to the latest version and try again", _details(r, name), "Conflict"))


PROTOBUF = "application/vnd.kubernetes.protobuf"


def decode(body: bytes, content_type: str) -> object:
    """A request's body: JSON, or YAML for server-side apply (JSON is YAML too)."""
    if content_type == PROTOBUF:
        # kubectl's typed commands (create deployment, create configmap, run, expose) send it
        raise APIError(resources.status(
            415, "netlab's API server reads JSON and YAML, not protobuf: write the object as a manifest "
                 "(kubectl create deployment NAME --image=I --dry-run=client -o yaml | kubectl apply -f -)"))
    try:
        if content_type == APPLY or content_type.endswith("yaml"):
            return yaml.safe_load(body.decode())
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as e:
        raise bad(f"the request's body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: {e}") from None


class Writes:
    """One lab's writes, one at a time (the lab's lock would order them anyway; this keeps
    a precondition and its write together in this server)."""

    _of: "weakref.WeakKeyDictionary[Store, Writes]" = weakref.WeakKeyDictionary()

    def __init__(self, store_: Store):
        self.store = store_
        self.lab = store_.lab
        self.lock = threading.Lock()

    @classmethod
    def of(cls, store_: Store) -> "Writes":
        """The store's writes (its servers, on the loopback and in the lab, share them)."""
        if store_ not in cls._of:
            cls._of[store_] = cls(store_)
        return cls._of[store_]

    # ---- what is there ----------------------------------------------------------------------
    def current(self, r: Resource, namespace: str | None, name: str) -> Item | None:
        _, items, _ = self.store.snapshot(r.store_name)
        return next((i for i in items if i.key == (namespace or "", name)), None)

    # ---- verbs ------------------------------------------------------------------------------
    def create(self, r: Resource, namespace: str | None, body: object, dry_run: bool) -> tuple[dict, list[str]]:
        obj = self._checked_body(r, namespace, body, None)
        name = obj["metadata"]["name"]
        with self.lock:
            self.store.refresh()
            if self.current(r, namespace, name) is not None:
                raise APIError(resources.status(409, f'{r.qualified} "{name}" already exists', _details(r, name),
                                                "AlreadyExists"))
            return self._write(r, namespace, name, obj, dry_run, warn=True)

    def replace(self, r: Resource, namespace: str | None, name: str, body: object,
                dry_run: bool) -> tuple[dict, list[str]]:
        obj = self._checked_body(r, namespace, body, name)
        with self.lock:
            self.store.refresh()
            item = self.current(r, namespace, name)
            if item is None:
                raise not_found(r, name)
            self._precondition(r, item, obj)
            self._writable(r, item)
            return self._write(r, namespace, name, obj, dry_run, warn=True)

    def patch(self, r: Resource, namespace: str | None, name: str, content_type: str, body: bytes,
              dry_run: bool) -> tuple[dict, list[str], bool]:
        """The patched object, warnings, and whether it was made (server-side apply of a new one)."""
        given = decode(body, content_type)
        with self.lock:
            self.store.refresh()
            item = self.current(r, namespace, name)
            if content_type == APPLY:
                obj = self._checked_body(r, namespace, given, name)
                if item is None:
                    return (*self._write(r, namespace, name, obj, dry_run, warn=True), True)
                new = patch.strategic_merge(r.kind, item.obj, obj)
            else:
                if item is None:
                    raise not_found(r, name)
                new = self._patched(r, item.obj, content_type, given)
            self._same_name(r, new, namespace, name)
            self._precondition(r, item, new)
            self._writable(r, item)
            return (*self._write(r, namespace, name, new, dry_run, warn=content_type == APPLY), False)

    def delete(self, r: Resource, namespace: str | None, name: str, dry_run: bool) -> dict:
        with self.lock:
            self.store.refresh()
            item = self.current(r, namespace, name)
            if item is None:
                raise not_found(r, name)
            if not dry_run:
                self._run({"op": "delete", "kind": r.kind, "namespace": namespace or "", "name": name}, r, name)
            return item.obj

    # ---- the scale subresource --------------------------------------------------------------
    def scale_of(self, item: Item) -> dict:
        obj = item.obj
        meta = {k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in obj["metadata"]}
        selector = ",".join(f"{k}={v}" for k, v in sorted(obj["spec"]["selector"].get("matchLabels", {}).items()))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": obj["status"].get("replicas", 0), "selector": selector}}

    def scale(self, r: Resource, namespace: str, name: str, content_type: str | None, body: bytes,
              dry_run: bool) -> dict:
        """PUT (content_type None) or PATCH of deployments/NAME/scale: the Scale after."""
        given = decode(body, content_type or "application/json")
        with self.lock:
            self.store.refresh()
            item = self.current(r, namespace, name)
            if item is None:
                raise not_found(r, name)
            before = self.scale_of(item)
            new = given if content_type is None else self._patched(r, before, content_type, given)
            if not isinstance(new, dict):
                raise bad("a Scale must be a JSON object")
            self._precondition(r, item, new)
            replicas = (new.get("spec") or {}).get("replicas", before["spec"]["replicas"])
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise invalid(r, name, f"spec.replicas: {replicas!r} must be a whole number")
            if replicas < 0:
                raise invalid(r, name, f"spec.replicas: {replicas} must be greater than or equal to 0")
            if not dry_run:
                self._run({"op": "scale", "namespace": namespace, "name": name, "replicas": replicas}, r, name)
                item = self.current(r, namespace, name) or item
            out = self.scale_of(item)
            out["spec"]["replicas"] = replicas
            return out

    # ---- the steps --------------------------------------------------------------------------
    def _checked_body(self, r: Resource, namespace: str | None, body: object, name: str | None) -> dict:
        """A whole object a client sent: of this resource's kind and version, in the request's
        namespace (filled in when it has none), named as the URL names it."""
        if not isinstance(body, dict):
            raise bad(f"the request's body must be a {r.kind} object")
        obj = copy.deepcopy(body)
        if obj.get("kind") != r.kind or obj.get("apiVersion") != r.group_version:
            raise bad(f"the object is {obj.get('apiVersion')} {obj.get('kind')}, but the request is for "
                      f"{r.group_version} {r.kind}")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad("metadata must be an object")
        if r.namespaced:
            if meta.get("namespace") not in (None, namespace):
                raise bad("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        if name is None and not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{objects.uid(self.lab.name, r.name, obj)[-5:]}"
        if not meta.get("name"):
            raise invalid(r, name or "", "metadata.name: Required value: name or generateName is required")
        if name is not None and meta["name"] != name:
            raise bad(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        return obj

    def _patched(self, r: Resource, obj: dict, content_type: str, given: object) -> dict:
        if content_type == MERGE:
            new = patch.merge_patch(obj, given)
        elif content_type == STRATEGIC:
            if not isinstance(given, dict):
                raise bad("a strategic merge patch must be a JSON object")
            try:
                new = patch.strategic_merge(r.kind, obj, given)
            except patch.PatchError as e:
                raise bad(str(e)) from None
        else:
            raise APIError(resources.status(
                415, f"the patch type {content_type!r} is not supported (supported: {MERGE}, {STRATEGIC}, {APPLY})"))
        if not isinstance(new, dict):
            raise bad("the patched object is not a JSON object")
        return new

    @staticmethod
    def _same_name(r: Resource, obj: dict, namespace: str | None, name: str) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("name") != name or (r.namespaced and meta.get("namespace") != namespace):
            raise bad("a patch may not change the object's name or namespace")

    @staticmethod
    def _precondition(r: Resource, item: Item | None, obj: dict) -> None:
        """An object that names the resourceVersion it was read at is written only over that one."""
        wanted = (obj.get("metadata") or {}).get("resourceVersion")
        if item is not None and wanted and wanted != item.obj["metadata"]["resourceVersion"]:
            raise _conflict(r, item.key[1])

    @staticmethod
    def _writable(r: Resource, item: Item | None) -> None:
        if item is not None and item.read_only:
            raise APIError(resources.status(
                405, f'{r.qualified} "{item.key[1]}" is the lab\'s own: {item.read_only}; it may be scaled or '
                     f"deleted, not replaced"))
        owners = (item.obj["metadata"].get("ownerReferences") or []) if item else []
        if r.kind == "Pod" and owners:
            raise APIError(resources.status(
                405, f'pod "{item.key[1]}" is made by a Deployment (ReplicaSet {owners[0]["name"]}): netlab changes '  # type: ignore[union-attr]
                     f"it only through its Deployment (a deleted pod is made again)"))

    def _write(self, r: Resource, namespace: str | None, name: str, obj: dict, dry_run: bool,
               warn: bool) -> tuple[dict, list[str]]:
        """Check `obj` as `netlab apply` would, then (unless a dry run) make it; the object as
        served afterwards, and what the manifest reader warned of."""
        where = f"{r.kind} {namespace + '/' if namespace else ''}{name}"       # (what the reader's messages start with)
        try:
            m = manifests.parse_document(obj, where)
        except ModelError as e:
            raise invalid(r, name, str(e)) from None
        assert m is not None
        cluster = Cluster.from_dict(self.lab.state()["cluster"])
        try:
            store.apply(cluster, [m])
            control_plane.admit(cluster, time.time())
        except ModelError as e:
            raise invalid(r, name, str(e)) from None
        warnings = [w.removeprefix(f"{where}: ") for w in m.warnings] if warn else []
        if dry_run:
            state = {**self.lab.state(), "cluster": cluster.to_dict()}
            built = objects.build(self.lab, state)[r.store_name]
            found = next((i for i in built if i.key == (namespace or "", name)), None)
            return (found.obj if found else obj), warnings
        warnings += self._run({"op": "apply", "docs": [obj], "where": where}, r, name)
        item = self.current(r, namespace, name)
        return (item.obj if item else obj), warnings

    def _run(self, request: dict, r: Resource, name: str) -> list[str]:
        """netlab.api.writer makes the change (a process of its own: it forks the pods, which a
        threaded server must not); the store is read again before the answer."""
        request["lab"] = self.lab.name
        try:
            done = subprocess.run([sys.executable, "-m", "netlab.api.writer"], input=json.dumps(request).encode(),
                                  capture_output=True, timeout=WRITE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise APIError(resources.status(504, f"the change took more than {WRITE_TIMEOUT:.0f}s", None,
                                            "Timeout")) from None
        try:
            answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise APIError(resources.status(500, f"the change failed: {tail[0]}")) from None
        self.store.refresh(force=True)
        if "error" in answer:
            code = answer.get("code", 500)
            if code == 422:
                raise invalid(r, name, answer["error"])
            if code == 404:
                raise not_found(r, name)
            raise APIError(resources.status(code, answer["error"]))
        return list(answer.get("warnings", []))
