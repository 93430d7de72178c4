"""Removing a lab: everything on its record, whatever state it was left in. Kept
apart from netlab.lab (which builds labs) so that `down` needs little to start."""
from __future__ import annotations

from typing import TYPE_CHECKING

from netlab.errors import NetlabError
from netlab.kernel import netns, process
from netlab.state import LabDir, labs

if TYPE_CHECKING:
    from netlab.kernel.api import Kernel


def teardown(lab_dir: LabDir, kernel: Kernel | None = None) -> None:
    """Remove everything on record, even when the record is half written (hold the lock).
    Through `kernel` when given (a test's fake); else the kernel's own calls, which need
    no netlink library: `down` starts in little time."""
    try:
        state = lab_dir.read()
    except (NetlabError, ValueError):
        state = {}
    names = state.get("namespaces", [])
    procs = [process.Proc(**p) for p in state.get("procs", {}).values()]
    # kubelets first, so that none restarts what is being stopped
    if kernel is None:
        stop, kill_in, remove = process.stop, _kill_in, netns.remove_all
    else:
        stop, kill_in, remove = kernel.stop, kernel.kill_in, kernel.remove_namespaces
    stop([p for p in procs if p.name.startswith("kubelet-")], timeout=0)
    stop(procs, timeout=0)          # the whole lab goes: no grace needed
    kill_in(names, timeout=0)
    remove(names)
    lab_dir.remove()


def _kill_in(namespaces: list[str], timeout: float) -> None:
    process.kill(process.in_namespaces(namespaces), timeout)


def down(name: str) -> None:
    lab_dir = LabDir(name)
    if not lab_dir.exists():
        raise NetlabError(f"lab {name!r} is not running")
    with lab_dir.lock():
        teardown(lab_dir)


def default_name(given: str | None) -> str:
    """--name, else the one lab that is running, else seed (the contract)."""
    if given:
        return given
    names = labs()
    return names[0] if len(names) == 1 else "seed"
