"""netlab's kubelet, one per node: restarts its pods' dead processes after a back-off and
follows their readiness by TCP probes from the node (netlab.kernel.readiness), reporting both to
the lab, which updates Endpoints and every node's rules."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from netlab import event_reasons, events, layout, output
from netlab.api.objects import uid
from netlab.errors import NetlabError
from netlab.log import logger, to_log
from netlab.kernel import process
from netlab.lab import Lab
from netlab.model.objects import Cluster
from netlab.kernel.readiness import refusal

PERIOD = 0.1             # how often processes are checked
PROBE_PERIOD = 0.5       # how often ports are probed
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET = 2.0, 32.0, 60.0   # CrashLoopBackOff (10 s, 5 min in Kubernetes), shortened


def _probe(ip: str, ports: list[int]) -> str | None:
    """Why the pod is not ready (the first port that does not answer); None: it is."""
    return next((why for port in ports if (why := refusal(ip, port))), None)


@dataclass
class Backoff:
    delay: dict = field(default_factory=dict)    # pod -> current back-off
    due: dict = field(default_factory=dict)      # pod -> when its dead process is restarted


def decide(pods: dict, alive: dict, probed: dict, now: float, b: Backoff) -> tuple[list, dict]:
    """The kubelet's rules (pure): which pods to restart, whose readiness changed.

    pods: key -> Pod; alive: key -> True/False, or None when not started yet; probed:
    key -> did its ports answer (only in probe rounds). A process that died takes its pod
    out of the Endpoints at once and comes back after a back-off that doubles each time.
    Readiness changes come as key -> (readiness seen, readiness found).
    """
    restart, ready = [], {}
    for key, p in pods.items():
        if alive.get(key) is not False:
            continue
        if key not in b.due:
            b.delay[key] = min(b.delay.get(key, BACKOFF_FIRST / 2) * 2, BACKOFF_MAX)
            b.due[key] = now + b.delay[key]
            if p.ready:
                ready[key] = (True, False)
        elif now >= b.due[key]:
            restart.append(key)
            del b.due[key]
    for key, ok in probed.items():
        if key not in b.due and key not in restart and alive.get(key) and ok != pods[key].ready:
            ready[key] = (pods[key].ready, ok)
    return restart, ready


def run(lab_name: str, node: str) -> None:
    """Watch this node's pods: a dead process leaves Endpoints at once and is restarted
    after a back-off; readiness follows TCP probes from the node, as the kubelet's."""
    lab = Lab(lab_name)
    log = logger("kubelet", lab_name)
    backoff = Backoff()
    last_probe = 0.0
    while lab.dir.exists():
        time.sleep(PERIOD)
        try:
            last_probe = _round(lab, node, backoff, last_probe)
        except Exception:       # noqa: BLE001 -- one failed round (a namespace removed meanwhile, say) must not end the node's agent
            if not lab.dir.exists():
                return          # the lab is gone
            log.exception("round failed; trying again")


def _round(lab: Lab, node: str, backoff: Backoff, last_probe: float) -> float:
    """Look at this node's pods once: restart the dead, report readiness; when it last probed."""
    try:
        state = lab.state()
    except (NetlabError, ValueError):
        return last_probe               # being written: read it next time
    c = Cluster.from_dict(state["cluster"])
    now = time.monotonic()
    pods = {(p.namespace, p.name): p for p in c.pods if p.node == node and p.command}
    alive = {}
    for key in pods:
        rec = state["procs"].get(layout.pod_proc(*key))
        proc = process.Proc(**rec) if rec else None
        if proc is None:     # not started yet, or kept from starting (a missing Secret): tried again
            alive[key] = False if layout.pod_proc(*key) in state.get("waiting", {}) else None
            continue
        alive[key] = process.alive(proc)
        if alive[key] and now - proc.start_seconds() > BACKOFF_RESET:
            backoff.delay.pop(key, None)        # running well for a while: back-off forgotten
    failures: dict = {}
    if now - last_probe >= PROBE_PERIOD:
        last_probe = now
        # no ports: a running process is ready (Kubernetes without a readiness probe)
        failures = {key: _probe(p.ip, sorted(set(p.container_ports.values()))) if p.container_ports else None
                    for key, p in pods.items() if alive[key]}
    probed = {key: why is None for key, why in failures.items()}
    waiting = set(backoff.due)
    restart, ready = decide(pods, alive, probed, now, backoff)
    said = [event_reasons.unhealthy(pods[k], why) for k, why in failures.items() if why is not None]
    said += [event_reasons.back_off(pods[k], _uid(lab.name, pods[k])) for k in set(backoff.due) - waiting]
    events.record(lab.dir, said, time.time())
    if restart or ready:
        lab.kubelet_report(node, restart, ready)
    return last_probe


def _uid(lab: str, p) -> str:
    """The pod's uid as the lab's API serves it."""
    meta = {"namespace": p.namespace, "name": p.name, "creationTimestamp": output.timestamp(p.created)}
    return uid(lab, "pods", {"metadata": meta})


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal
    import sys
    p = argparse.ArgumentParser(prog="kubelet", description="netlab's kubelet for one node")
    p.add_argument("--lab", required=True)
    p.add_argument("--node", required=True)
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    to_log()
    logger("kubelet", a.lab).info("kubelet for node %s", a.node)
    run(a.lab, a.node)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
