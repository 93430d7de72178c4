"""Images are never pulled: what each workload runs instead, said once per apply.

Pure: from the workloads' kind, name, image and command to one warning line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

# netlab's own programs a pod may run by name (they come from netlab's environment)
BUILTIN = frozenset({"netlab-whoami", "netlab-connect", "netlab-kube-dns", "netlab-kube-dns-pod",
                     "netlab-data-product", "netlab-business-manager", "netlab-db"})
NO_COMMAND = "NoCommand"        # the waiting reason of a pod with nothing to run
SHOWN = 3                       # objects named per group; the others are counted
COMMAND_WIDTH = 60              # a longer command line is cut


@dataclass(frozen=True)
class Workload:
    kind: str                   # pod | deployment
    name: str
    image: str
    command: tuple[str, ...]


def of(kind: str, obj) -> Workload:
    """A Pod's or Deployment's first container, the one netlab runs."""
    return Workload(kind.lower(), obj.name, obj.image, tuple(obj.command))


def runs(command) -> str:
    """What a container runs instead of its image's entrypoint, in words."""
    if not command:
        return "nothing"
    if command[0] in BUILTIN:
        return f"netlab's built-in {command[0]}"
    text = json.dumps(list(command))
    if len(text) > COMMAND_WIDTH:
        text = text[:text.rfind(", ", 0, COMMAND_WIDTH - 5)] + ", ...]"     # whole arguments only
    return f"its command {text}"


def warning(workloads: list[Workload]) -> str | None:
    """One line for every workload that names an image or has nothing to run, grouped by
    what they run (nothing first), e.g. `images are not pulled: deployment/web (nginx:1.25)
    runs nothing; pod/x (busybox) runs its command ["sleep", "1000"]`; None if none does."""
    groups: dict[str, list[Workload]] = {}
    for w in workloads:
        if w.image or not w.command:
            groups.setdefault(runs(w.command), []).append(w)
    if not groups:
        return None
    parts = []
    for what in sorted(groups, key=lambda g: g != "nothing"):      # then in the order given
        ws = groups[what]
        names = [f"{w.kind}/{w.name}" + (f" ({w.image})" if w.image else "") for w in ws[:SHOWN]]
        if len(ws) > SHOWN:
            names.append(f"{len(ws) - SHOWN} more")
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        if len(ws) > 1:
            what = what.replace("its command", "their command", 1)
        parts.append(f"{listed} {'runs' if len(ws) == 1 else 'run'} {what}")
    return "images are not pulled: " + "; ".join(parts)


def waiting_reason(pod) -> str | None:
    """Why a pod's container is not running, before any start was tried: nothing to run."""
    return None if pod.command else NO_COMMAND


def message(reason: str) -> str | None:
    """Why a container waits, in words, for the reasons netlab alone gives."""
    if reason == NO_COMMAND:
        return "no command to run: images are not pulled, so a container runs only its command"
    return None
