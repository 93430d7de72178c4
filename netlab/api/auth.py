"""Who a request is and what it may do (pure).

Two kinds of bearer token open the lab's API:

- the lab's own token (api/token, the kubeconfig's): the lab's administrator, who may do
  everything (system:masters);
- a service account's, mounted in every pod at /var/run/secrets/kubernetes.io/serviceaccount:
  the `default` service account of the pod's namespace, "system:serviceaccount:<ns>:default".
  It is a JWT as a real (legacy) service-account token is, with the claims clients read,
  signed HS256 with the lab's token: the server needs nothing stored to check it, and a pod's
  token stays the same across its restarts.

A service account may read: get, list and watch any resource, in any namespace (the `view`
role, bound cluster-wide; pods' logs too), and the non-resource paths (discovery, /version,
/healthz: system:discovery). Every write is refused 403 Forbidden, worded as the real API
server's RBAC authorizer words it. Authorization looks at the request line only, as the API
server's RequestInfo does before any handler runs (request_info).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from netlab.api import resources

ADMIN_USER = "netlab-admin"
SA_PREFIX = "system:serviceaccount:"
READS = frozenset({"get", "list", "watch"})
_HEADER = {"alg": "HS256", "typ": "JWT"}


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...]
    namespace: str | None = None        # a service account's namespace; None: the lab's admin

    @property
    def admin(self) -> bool:
        return self.namespace is None


ADMIN = Identity(ADMIN_USER, ("system:masters", "system:authenticated"))


def service_account(namespace: str, name: str = "default") -> Identity:
    return Identity(f"{SA_PREFIX}{namespace}:{name}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
                    namespace)


# ---- tokens -----------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signed: str) -> str:
    return _b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def service_account_token(secret: str, namespace: str, name: str = "default") -> str:
    """The token of service account namespace/name, `secret` being the lab's token."""
    claims = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": namespace,
              "kubernetes.io/serviceaccount/service-account.name": name, "sub": f"{SA_PREFIX}{namespace}:{name}"}
    signed = f"{_b64(json.dumps(_HEADER).encode())}.{_b64(json.dumps(claims, sort_keys=True).encode())}"
    return f"{signed}.{_sign(secret, signed)}"


def identity(secret: str, token: str) -> Identity | None:
    """Who `token` is, `secret` being the lab's token; None: nobody (401)."""
    if not token or not secret:
        return None
    if hmac.compare_digest(token.encode(), secret.encode()):
        return ADMIN
    parts = token.split(".")
    if len(parts) != 3 or not hmac.compare_digest(parts[2].encode(), _sign(secret, f"{parts[0]}.{parts[1]}").encode()):
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
        namespace = claims["kubernetes.io/serviceaccount/namespace"]
        name = claims["kubernetes.io/serviceaccount/service-account.name"]
    except (ValueError, KeyError, TypeError):
        return None
    return service_account(namespace, name)


# ---- authorization ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestInfo:
    """What the API server's RequestInfoFactory reads from a request line."""
    verb: str
    path: str
    resource: str = ""          # "" for a non-resource path (discovery, /healthz)
    subresource: str = ""
    group: str = ""
    namespace: str = ""
    name: str = ""


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_info(method: str, target: str) -> RequestInfo:
    url = urlsplit(target)
    parts = [p for p in url.path.split("/") if p]
    watch = parse_qs(url.query).get("watch", [""])[-1].lower() in ("true", "1")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        rest = []
    if not rest:        # discovery, /version, /healthz: no resource
        return RequestInfo("get" if method in ("GET", "HEAD") else method.lower(), url.path)
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) >= 2:
        namespace = rest[1]         # (a Namespace's own object is in itself, for the authorizer)
        if len(rest) >= 3 and rest[2] not in ("status", "finalize"):    # (a Namespace's subresources)
            rest = rest[2:]
    resource, name, sub = (rest + ["", "", ""])[:3]
    if method in ("GET", "HEAD"):
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return RequestInfo(verb, url.path, resource, sub, group, namespace, name)


def may(who: Identity, info: RequestInfo) -> bool:
    """The lab's admin may do anything; a service account may read (see the module's note)."""
    return who.admin or info.verb in READS


def forbidden(who: Identity, info: RequestInfo) -> dict:
    """The Status the API server answers a request RBAC refuses."""
    if not info.resource:
        return resources.status(403, f'forbidden: User "{who.user}" cannot {info.verb} path "{info.path}"',
                                reason="Forbidden")
    what = info.resource + (f"/{info.subresource}" if info.subresource else "")
    scope = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
    qualified = f"{info.resource}.{info.group}" if info.group else info.resource     # Go's GroupResource
    subject = f'{qualified} "{info.name}"' if info.name else qualified
    message = (f'{subject} is forbidden: User "{who.user}" cannot {info.verb} resource "{what}" '
               f'in API group "{info.group}" {scope}')
    details = {**({"name": info.name} if info.name else {}), **({"group": info.group} if info.group else {}),
               "kind": info.resource}
    return resources.status(403, message, details, "Forbidden")
