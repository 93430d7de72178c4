"""Processes the lab starts inside its namespaces: started, recorded, stopped by pid."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass

from netlab.kernel import netns

_children: dict[int, subprocess.Popen] = {}   # ours to reap


@dataclass
class Proc:
    name: str
    pid: int
    start: int          # start time in clock ticks: tells our process from a reused pid
    netns: str
    argv: list[str]

    def to_dict(self) -> dict:
        return asdict(self)

    def start_seconds(self) -> float:
        """Start time on the monotonic clock's scale (both count from boot)."""
        return self.start / os.sysconf("SC_CLK_TCK")


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name may hold spaces and parentheses: split after the last ')'
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def spawn(name: str, argv: list[str], netns_name: str, log_path: str, env: dict | None = None) -> Proc:
    """Start argv inside a namespace, detached from our session, output to a log file."""
    env = {**(os.environ if env is None else env), "NETLAB_NETNS": netns_name}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 preexec_fn=netns.preexec(netns_name), start_new_session=True,
                                 env=env, close_fds=True)
    _children[child.pid] = child
    return Proc(name, child.pid, _start_time(child.pid) or 0, netns_name, list(argv))


def alive(p: Proc) -> bool:
    """Running, and the same process (not a reused pid); a zombie whose parent has not
    reaped it yet counts as dead."""
    if p.pid in _children and _children[p.pid].poll() is not None:
        return False
    return _start_time(p.pid) == p.start and not _is_zombie(p.pid)


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()


def kill(pids: list[int], timeout: float = 1.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after `timeout` (at once if 0)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM if timeout else signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            if pid in _children:
                if _children[pid].poll() is not None:
                    _reap(pid)
                    left.remove(pid)
            elif _start_time(pid) is None or _is_zombie(pid):
                left.remove(pid)
        time.sleep(0.01)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def stop(procs: list[Proc], timeout: float = 1.0) -> None:
    kill([p.pid for p in procs if alive(p)], timeout)


def in_namespaces(names: list[str]) -> list[int]:
    """Every process (by pid) whose network namespace is one of these: what the lab left."""
    inodes = {i for i in (netns.inode(n) for n in names) if i}
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                found.append(int(entry))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found
