"""Secrets and ConfigMaps as pods see them (pure): values, environment, volume files.

The API server stores a Secret's values base64-encoded; a pod gets the decoded bytes,
as environment variables (env[].valueFrom, envFrom) or as files (volumes). A reference
to something missing fails the way the kubelet fails it (CreateContainerConfigError),
unless the reference is optional.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from netlab.errors import NetlabError
from netlab.model.objects import Cluster, Pod, Secret

KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class MissingRef(NetlabError):   # noqa: N818 - the kubelet's own word for it
    """A pod refers to a Secret, ConfigMap or key that is not there."""


def encode(values: Mapping[str, bytes | str]) -> dict[str, str]:
    """Values as the API server stores a Secret's `data`."""
    return {k: base64.b64encode(v.encode() if isinstance(v, str) else v).decode() for k, v in values.items()}


def decode(secret: Secret) -> dict[str, bytes]:
    try:
        return {k: base64.b64decode(v, validate=True) for k, v in secret.data.items()}
    except binascii.Error:
        raise NetlabError(f"secret {secret.namespace}/{secret.name}: data is not valid base64") from None


def _source(c: Cluster, kind: str, namespace: str, name: str) -> dict[str, bytes] | None:
    if kind == "Secret":
        secret = next((s for s in c.secrets if (s.namespace, s.name) == (namespace, name)), None)
        return None if secret is None else decode(secret)
    config_map = next((m for m in c.config_maps if (m.namespace, m.name) == (namespace, name)), None)
    return None if config_map is None else {k: v.encode() for k, v in config_map.data.items()}


def _field(pod: Pod, c: Cluster, path: str) -> str:
    node = next((n for n in c.nodes if n.name == pod.node), None)
    values = {"metadata.name": pod.name, "metadata.namespace": pod.namespace, "status.podIP": pod.ip,
              "spec.nodeName": pod.node, "status.hostIP": node.ip if node else ""}
    if path not in values:
        raise MissingRef(f"pod {pod.namespace}/{pod.name}: fieldRef {path} is not supported")
    return values[path]


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise MissingRef(f"{what} is not text and cannot be an environment variable") from None


def environment(c: Cluster, pod: Pod) -> dict[str, str]:
    """The pod's variables from envFrom, then env (env wins, as in Kubernetes)."""
    out: dict[str, str] = {}
    for ref in pod.env_from:
        values = _source(c, ref.kind, pod.namespace, ref.name)
        if values is None:
            if ref.optional:
                continue
            raise MissingRef(f"pod {pod.namespace}/{pod.name}: envFrom: {ref.kind.lower()} "
                             f"{pod.namespace}/{ref.name} not found")
        for key, value in values.items():
            if ENV_NAME.match(ref.prefix + key):      # invalid names are skipped, as the kubelet does
                out[ref.prefix + key] = _text(value, f"{ref.kind.lower()} {ref.name} key {key}")
    out.update(pod.env)
    for name, key_ref in pod.env_refs.items():
        if key_ref.kind == "Field":
            out[name] = _field(pod, c, key_ref.key)
            continue
        values = _source(c, key_ref.kind, pod.namespace, key_ref.name)
        if values is None or key_ref.key not in values:
            if key_ref.optional:
                continue
            what = f"{key_ref.kind.lower()} {pod.namespace}/{key_ref.name}"
            raise MissingRef(f"pod {pod.namespace}/{pod.name}: env {name}: "
                             + (f"{what} not found" if values is None else f"{what} has no key {key_ref.key!r}"))
        out[name] = _text(values[key_ref.key], f"{key_ref.kind.lower()} {key_ref.name} key {key_ref.key}")
    return out


def volume_files(c: Cluster, pod: Pod) -> dict[str, dict[str, bytes]]:
    """volume name -> {relative file path: content}, the files the kubelet would project."""
    out = {}
    for v in pod.volumes:
        values = _source(c, v.kind, pod.namespace, v.source)
        if values is None:
            if not v.optional:
                raise MissingRef(f"pod {pod.namespace}/{pod.name}: volume {v.name}: "
                                 f"{v.kind.lower()} {pod.namespace}/{v.source} not found")
            values = {}
        if v.items:
            missing = [k for k in v.items if k not in values]
            if missing and not v.optional:
                raise MissingRef(f"pod {pod.namespace}/{pod.name}: volume {v.name}: "
                                 f"{v.kind.lower()} {v.source} has no key {missing[0]!r}")
            out[v.name] = {path: values[k] for k, path in v.items.items() if k in values}
        else:
            out[v.name] = dict(values)
    return out


def uses(pod: Pod, kind: str, namespace: str, name: str) -> bool:
    """Does the pod read this Secret or ConfigMap (env or volume)?"""
    if pod.namespace != namespace:
        return False
    refs = [(r.kind, r.name) for r in pod.env_refs.values()] + [(r.kind, r.name) for r in pod.env_from]
    refs += [(v.kind, v.source) for v in pod.volumes]
    return (kind, name) in refs


def redacted(secret: Secret) -> dict[str, int]:
    """What `describe secret` shows: each key's size in bytes, never its value."""
    return {k: len(v) for k, v in decode(secret).items()}

