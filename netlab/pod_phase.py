"""A pod's STATUS, READY and RESTARTS as `get pods` shows them, and its phase as `-o json`
and describe say it: from the lab's record, the pod's namespace and, for a pod of several
containers, its runtime's status file. Shared by the CLI and the API server."""
from __future__ import annotations

from netlab.state import LabRecord


def status(lab: LabRecord, state: dict | None = None):
    """pod -> (shown status, "n/m" ready, restarts); `state`: the lab's, if read already."""
    from netlab import layout
    from netlab.kernel import netns
    from netlab.model import images
    state = lab.state() if state is None else state
    waiting = state.get("waiting", {})
    several_of = containers(lab, state)

    def pod_status(pod):
        several = several_of(pod)
        if not netns.exists(layout.pod_ns(lab.name, pod)):
            return ("Unknown", f"0/{len(several or [1])}", 0)
        # kept from starting, or nothing to run: the reason, as kubectl shows it
        reason = waiting.get(layout.pod_proc(pod.namespace, pod.name)) or images.waiting_reason(pod)
        if several:       # its runtime's status file: READY n/m, the containers' restarts too
            from netlab import pod_status as files
            return (reason or "Running", files.ready_text(several), pod.restarts + files.restarts(several))
        return (reason or "Running", "1/1" if pod.ready else "0/1", pod.restarts)
    return pod_status


def containers(lab: LabRecord, state: dict | None = None):
    """A pod of several containers: each one's status, as its runtime wrote it (None for one container)."""
    from netlab import layout
    procs = (lab.state() if state is None else state).get("procs", {})

    def of(pod):
        if len(pod.containers) < 2:
            return None
        from netlab import pod_status as files
        proc = procs.get(layout.pod_proc(pod.namespace, pod.name))
        doc = files.read(lab.dir.pod_dir(pod.namespace, pod.name), proc)
        return files.statuses(pod.containers, doc)
    return of


def phase(lab: LabRecord, state: dict | None = None):
    """A pod's phase, readiness, restarts and waiting reason (None if it runs), as -o json and describe say."""
    state = lab.state() if state is None else state
    shown_of = status(lab, state)
    several_of = containers(lab, state)

    def pod_phase(pod):
        shown, ready, restarts = shown_of(pod)
        n, _, m = ready.partition("/")
        if shown in ("Running", "Unknown"):
            return shown, n == m, restarts, None, several_of(pod)
        return "Pending", False, restarts, shown, several_of(pod)            # a waiting reason
    return pod_phase
