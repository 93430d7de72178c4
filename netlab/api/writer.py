"""One write of the lab's API server, made as `netlab apply`, `netlab delete` and `netlab scale`
make theirs: Lab.update with the model's store. A process of its own (python -m
netlab.api.writer): it reads one request (JSON) on standard input and prints one answer line.

    {"lab": L, "op": "apply", "docs": [...], "where": W}    -> {"warnings": [...]}
    {"lab": L, "op": "delete", "kind": K, "namespace": N, "name": X}
    {"lab": L, "op": "scale", "namespace": N, "name": X, "replicas": R}
    an error: {"error": "one line", "code": 422 | 404 | 409 | 500}
"""
from __future__ import annotations

import json
import sys

from netlab.errors import ModelError, NetlabError
from netlab.model import manifests, store


def change(request: dict):
    """The change a request makes to a cluster (pure, given the cluster)."""
    op = request["op"]
    if op == "apply":
        items = [manifests.parse_document(doc, request.get("where", "the request")) for doc in request["docs"]]
        return lambda c: store.apply(c, [m for m in items if m is not None])
    if op == "delete":
        def delete(c):
            if not store.remove(c, request["kind"], request["namespace"], request["name"]):
                raise store.NotFoundError(f'{request["kind"]} "{request["name"]}" not found')
        return delete
    if op == "scale":
        return lambda c: store.scale(c, request["namespace"], request["name"], int(request["replicas"]))
    raise NetlabError(f"unknown operation {op!r}")


def run(request: dict) -> dict:
    from netlab.lab import Lab
    warnings: list[str] = []
    try:
        Lab(request["lab"]).update(change(request), warn=warnings.append)
    except store.NotFoundError as e:
        return {"error": str(e), "code": 404}
    except ModelError as e:
        return {"error": str(e), "code": 422}
    except NetlabError as e:
        return {"error": str(e), "code": 500}
    return {"warnings": warnings}


def main() -> int:
    answer = run(json.loads(sys.stdin.read()))
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
