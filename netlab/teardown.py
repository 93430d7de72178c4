"""Removing a lab: everything on its record, whatever state it was left in. Kept
apart from netlab.lab (which builds labs) so that `down` needs little to start."""
from __future__ import annotations

from typing import TYPE_CHECKING

from netlab.errors import NetlabError
from netlab.kernel import process
from netlab.kernel.local import LocalKernel
from netlab.state import LabDir, labs

if TYPE_CHECKING:
    from netlab.kernel.api import Kernel


def teardown(lab_dir: LabDir, kernel: Kernel | None = None) -> None:
    """Remove everything on record, even when the record is half written (hold the lock).
    Through `kernel` when given (a test's fake), else the local kernel."""
    try:
        state = lab_dir.read()
    except (NetlabError, ValueError):
        state = {}
    names = state.get("namespaces", [])
    procs = [process.Proc(**p) for p in state.get("procs", {}).values()]
    # kubelets first, so that none restarts what is being stopped
    k: Kernel | LocalKernel = kernel or LocalKernel()
    k.stop([p for p in procs if p.name.startswith("kubelet-")], timeout=0)
    k.stop(procs, timeout=0)          # the whole lab goes: no grace needed
    k.kill_in(names, timeout=0)
    k.remove_namespaces(names)
    lab_dir.remove()


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
