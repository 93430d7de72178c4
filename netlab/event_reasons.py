"""What each component says when it acts, in the reasons and words of Kubernetes' own
(kube-scheduler, the deployment and replicaset controllers, the kubelet), and one the issue
asks for that Kubernetes has not: a Service's ready endpoints changed. Pure: model objects in,
netlab.events.Event out; the callers that act record them."""
from __future__ import annotations

from netlab.events import NORMAL, WARNING, Event
from netlab.model.objects import Cluster, Endpoints, Pod
from netlab.model.rollout import key

SCHEDULER, DEPLOYMENTS, REPLICASETS, KUBELET = \
    "default-scheduler", "deployment-controller", "replicaset-controller", "kubelet"
ENDPOINTS = "endpoint-controller"
SHOWN = 5               # addresses an endpoints event names (then "and N more")


def container(p: Pod) -> str:
    """The pod's one container's name (as netlab.output names it)."""
    return p.owner or p.name


def replica_set(p: Pod) -> str:
    return p.name.rsplit("-", 1)[0]


def _pod(p: Pod, type_: str, reason: str, message: str, component: str = KUBELET, on_container: bool = True) -> Event:
    return Event(type_, reason, message, "Pod", p.namespace, p.name, component,
                 p.node if component == KUBELET else "",
                 f"spec.containers{{{container(p)}}}" if on_container else "", p.created)


def scheduled(p: Pod) -> Event:
    return _pod(p, NORMAL, "Scheduled", f"Successfully assigned {p.namespace}/{p.name} to {p.node}", SCHEDULER,
                on_container=False)


def started(p: Pod) -> list[Event]:
    """The kubelet ran the pod's process (no image is pulled: it is already on the machine)."""
    pulled = [_pod(p, NORMAL, "Pulled", f'Container image "{p.image}" already present on machine')] if p.image else []
    return pulled + [_pod(p, NORMAL, "Created", f"Created container: {container(p)}"),
                     _pod(p, NORMAL, "Started", f"Started container {container(p)}")]


def failed(p: Pod, why: object) -> Event:
    """Its process could not start (a missing Secret, say)."""
    return _pod(p, WARNING, "Failed", f"Error: {why}")


def killing(p: Pod) -> Event:
    return _pod(p, NORMAL, "Killing", f"Stopping container {container(p)}")


def back_off(p: Pod, uid: str) -> Event:
    return _pod(p, WARNING, "BackOff",
                f"Back-off restarting failed container {container(p)} in pod {p.name}_{p.namespace}({uid})")


def unhealthy(p: Pod, why: str) -> Event:
    return _pod(p, WARNING, "Unhealthy", f"Readiness probe failed: {why}")


def controllers(old: list[Pod], new: Cluster, start: list[Pod], stop: list[Pod]) -> list[Event]:
    """What the deployment and replicaset controllers and the scheduler did between the pods
    `old` and the cluster `new`: each deployment whose pods changed in number scaled its replica set, which created
    and deleted pods; each pod started was scheduled."""
    out = []
    gone = {key(p) for p in new.pods}
    for d in new.deployments:
        def owned(pods: list[Pod]) -> int:
            return sum(1 for p in pods if (p.namespace, p.owner) == (d.namespace, d.name))
        was, now = owned(old), owned(new.pods)
        if was != now:
            rs = f"{d.name}-{d.template_hash}"
            words = f"Scaled {'up' if now > was else 'down'} replica set {rs} to {now} from {was}"
            out.append(Event(NORMAL, "ScalingReplicaSet", words, "Deployment", d.namespace, d.name, DEPLOYMENTS))
    for p in stop:
        if p.owner and key(p) not in gone:
            out.append(Event(NORMAL, "SuccessfulDelete", f"Deleted pod: {p.name}", "ReplicaSet", p.namespace,
                             replica_set(p), REPLICASETS))
    for p in start:
        if p.owner:
            out.append(Event(NORMAL, "SuccessfulCreate", f"Created pod: {p.name}", "ReplicaSet", p.namespace,
                             replica_set(p), REPLICASETS))
    return out + [scheduled(p) for p in start]


def _ready(eps: list[Endpoints]) -> dict[tuple[str, str], set[str]]:
    return {(e.namespace, e.name): {a.ip for a in e.addresses if a.ready} for e in eps}


def endpoints_changed(c: Cluster, before: list[Endpoints], after: list[Endpoints]) -> list[Event]:
    """A Normal event on each Service whose ready addresses changed (Kubernetes' endpoints
    controller records none; a lab's user wants to see them)."""
    was, now = _ready(before), _ready(after)
    created = {(s.namespace, s.name): s.created for s in c.services}
    out = []
    for k in sorted(now):
        if k in was and now[k] != was[k] and k in created:
            added, removed = sorted(now[k] - was[k]), sorted(was[k] - now[k])
            changes = [f"+{ip}" for ip in added] + [f"-{ip}" for ip in removed]
            said = ", ".join(changes[:SHOWN]) + (f" and {len(changes) - SHOWN} more" if len(changes) > SHOWN else "")
            n = len(now[k])
            words = f"Ready endpoints changed: {n} address{'' if n == 1 else 'es'} (was {len(was[k])}): {said}"
            out.append(Event(NORMAL, "EndpointsChanged", words, "Service", k[0], k[1], ENDPOINTS, created=created[k]))
    return out
