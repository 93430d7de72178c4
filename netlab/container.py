"""What a container runtime does for a pod's process: its user, its volumes, its
command line. netlab's pods share the host's file system, so a volume's mount point
that does not exist is made in a copy-on-write layer (overlayfs) private to the pod.

    fork: the pod's network namespace; mount, IPC and PID namespaces of its own with
      empty /tmp, /dev/shm and /run (the pod's directory bound back), the overlays,
      each volume bound read-only at its mountPath, /etc/netns/<ns>/* over /etc (as
      `ip netns exec`); then it stays as the pod's shim in the host's PID namespace
      fork: PID 1 of the pod: its /proc, its user, its capabilities
        the pod's command (exec, or one of netlab's programs run in place)

The system calls are netlab.kernel.sandbox's; this module decides what they get.
"""
from __future__ import annotations

import os
import shutil
import stat
from typing import Sequence
from dataclasses import dataclass
from pathlib import Path

from netlab.errors import NetlabError
from netlab.kernel import sandbox as calls
from netlab.model import capabilities as caps
from netlab.kernel.process import Sandbox


@dataclass(frozen=True)
class Mount:
    source: str          # a directory the lab wrote (the volume's files)
    target: str          # mountPath inside the pod


def overlay_points(mounts: list[Mount], exists=os.path.exists, keep: tuple[str, ...] = ()) -> list[str]:
    """Directories to cover with a private writable layer so that missing mount
    points can be made: the nearest existing ancestor of each, parents first. A layer
    must not cover `keep` (where the namespaces, the pods' /etc/netns files and the
    volumes themselves live): the pod would no longer see them change."""
    points = set()
    for m in mounts:
        if exists(m.target) or calls.is_private(m.target):     # (the pod's own /run, /tmp: made there)
            continue
        parent = os.path.dirname(m.target)
        while not exists(parent):
            parent = os.path.dirname(parent)
        hidden = [k for k in keep if k == parent or k.startswith(parent.rstrip("/") + "/")]
        if parent == "/" or hidden:
            what = "the whole file system" if parent == "/" else hidden[0]
            raise NetlabError(f"volume mountPath {m.target}: netlab pods share the host's file system and "
                              f"{m.target} does not exist, so netlab would cover {parent}, hiding {what}; "
                              f"mount under an existing directory such as /etc, /opt, /srv or /mnt")
        points.add(parent)
    return sorted(points, key=lambda p: (p.count("/"), p))


def sandbox(netns: str, uid: int, mounts: Sequence[Mount] = (), overlays: Sequence[str] = (),
            scratch: str = "", keep: Sequence[str] = (), capabilities: Sequence[str] = caps.DEFAULT) -> Sandbox:
    """Where the pod's process runs (pure): its namespace and user, a writable layer
    over each overlay point (layer i of `scratch`), each volume read-only at its path,
    the lab's directories it sees (its own, which holds those), its capabilities."""
    return Sandbox(netns, uid, tuple((point, f"{scratch}/{i}") for i, point in enumerate(overlays)),
                   tuple((m.source, m.target) for m in mounts), keep=tuple(keep), capabilities=tuple(capabilities))


def make_scratch(scratch: Path, overlays: list[str]) -> None:
    """Each overlay's upper and work directories; the upper one takes the covered
    directory's owner and mode, which the overlay's top shows. Fresh for each start."""
    shutil.rmtree(scratch, ignore_errors=True)
    for i, point in enumerate(overlays):
        for d in ("upper", "work"):
            (scratch / str(i) / d).mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.stat(point)
        upper = scratch / str(i) / "upper"
        os.chown(upper, st.st_uid, st.st_gid)
        os.chmod(upper, stat.S_IMODE(st.st_mode))


def private_dir(path: Path, uid: int) -> Path:
    """A directory only the pod's user may use (0700, its own): where it writes (nginx's)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chown(path, uid, uid)
    os.chmod(path, 0o700)
    return path


def _readable_dir(path: Path, uid: int) -> None:
    """root's, readable by the pod's group alone (0750): the pod cannot plant a link
    in it for root to follow, nor can any other pod look in."""
    if path.is_symlink() or path.exists() and not path.is_dir():
        path.unlink()
    path.mkdir(mode=0o750, exist_ok=True)
    os.chown(path, os.geteuid(), uid)      # (root: the lab runs as root)
    os.chmod(path, 0o750)


def write_files(directory: Path, files: dict[str, bytes], uid: int) -> bool:
    """Make `directory` hold exactly `files` (0600, the pod's user, in directories only
    its group may read), each replaced atomically so a reader sees the old or the new
    value, never half. True if anything changed."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.parent.chmod(0o711)           # passed through, never listed (netlab's umask is 077)
    _readable_dir(directory, uid)
    changed = False
    for rel, content in sorted(files.items()):
        path = directory
        for part in Path(rel).parts[:-1]:
            path = path / part
            _readable_dir(path, uid)
        path = path / Path(rel).name
        if path.is_file() and not path.is_symlink() and path.read_bytes() == content:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)          # a directory before, a file now
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chown(tmp, uid, uid)
        os.replace(tmp, path)
        changed = True
    wanted = set(files) | {str(parent) for rel in files for parent in Path(rel).parents if str(parent) != "."}
    for path in sorted(directory.rglob("*"), key=lambda x: len(x.parts), reverse=True):
        if str(path.relative_to(directory)) in wanted:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        changed = True
    return changed


def reachable_by_others(paths: list[str]) -> str | None:
    """The first directory on the way to these paths that other users cannot enter (a
    pod's user must run netlab's Python and programs), or None."""
    for p in paths:
        d = os.path.realpath(p)
        while True:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return d
            if d == "/":
                break
            d = os.path.dirname(d)
    return None
