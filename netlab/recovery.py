"""What a change to a lab cut short (SIGKILL at any moment) leaves behind, as the lab's
record tells it: everything is on record before it is made, but the cluster is saved
only once the change is complete."""
from __future__ import annotations

from netlab import layout
from netlab.model.objects import Cluster


def strays(state: dict, c: Cluster) -> tuple[list[str], list[str]]:
    """Namespaces and pods' process records that the recorded cluster has no pod for (pure):
    the pods of a scale-up that was killed before it could say they exist."""
    wanted = set(layout.all_namespaces(c))
    pods = {layout.pod_proc(p.namespace, p.name) for p in c.pods}
    namespaces = [n for n in state.get("namespaces", []) if n not in wanted]
    procs = [n for n in state.get("procs", {}) if n.startswith("pod/") and n not in pods]
    return namespaces, procs
