"""Processes the lab starts inside its namespaces: started, recorded, stopped by pid."""
from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import NoReturn, Sequence

from netlab.kernel import netns, sandbox
from netlab.model import capabilities as caps

_children: dict[int, subprocess.Popen] = {}   # ours to reap
_forked: set[int] = set()                     # ours to reap too (started by start())


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


# A Sandbox's netns for a process that stays in netlab's own network namespace (the host's):
# the lab's API server alone, which listens on the host's loopback and nowhere else.
HOST = ""


@dataclass(frozen=True)
class Sandbox:
    """Where a pod's process runs: its network namespace, its user, the writable layers
    (directory, scratch layer) and read-only volumes (source, mount point) of its mounts,
    the host directories it keeps seeing under its private ones (its own), its capabilities."""
    netns: str
    uid: int = 0
    overlays: tuple[tuple[str, str], ...] = ()
    binds: tuple[tuple[str, str], ...] = ()
    pod: bool = field(default=True)     # False: an agent or host server (no namespaces of its own)
    keep: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = caps.DEFAULT


def program(argv: list[str]) -> str | None:
    """module:function when argv runs one of netlab's own programs from this environment."""
    from netlab.apps import PROGRAMS
    name = os.path.basename(argv[0]) if argv else ""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if name in PROGRAMS and os.path.realpath(argv[0]) == os.path.realpath(here):
        return PROGRAMS[name]
    return None


@dataclass(frozen=True)
class Spec:
    """One process to start: its record's name, command line, sandbox, log and environment."""
    name: str
    argv: list[str]
    box: Sandbox
    log: str
    env: dict


_started: dict[str, int] = {}     # our programs' modules -> processes started with them
SHARE_AFTER = 1


def start(spec: Spec) -> Proc:
    """Start one process (see start_many); a failure is raised."""
    result = start_many([spec])[0]
    if isinstance(result, OSError):
        raise result
    return result


def start_many(specs: list[Spec]) -> list[Proc | OSError]:
    """Start each argv in its sandbox, detached from our session, output to its log.

    A container runtime forks, sets the child up and execs the container's program.
    So does this, except for netlab's own Python programs: the child runs them itself,
    in the interpreter it shares with its parent, instead of starting a new one (about
    60 ms of CPU and 10 MB each). Either way the child is a real process in the pod's
    namespaces, with the command line and environment ps shows for it. All children
    are forked before any is waited for, so their set-up runs side by side; a failure
    before a program runs (no such namespace or executable) is returned in its place.
    """
    pending = [_fork(s) for s in specs]
    results: list[Proc | OSError] = []
    for spec, (pid, report_r) in zip(specs, pending):
        with os.fdopen(report_r, "rb") as report:
            failure = report.read()         # nothing: it runs its program now
        if failure:
            os.waitpid(pid, 0)
            errno, _, message = failure.decode(errors="replace").partition(":")
            results.append(OSError(int(errno or 0), f"{spec.name}: {message}"))
            continue
        _forked.add(pid)
        results.append(Proc(spec.name, pid, _start_time(pid) or 0, spec.box.netns, list(spec.argv)))
    return results


def _fork(spec: Spec) -> tuple[int, int]:
    env = {**spec.env, "NETLAB_NETNS": spec.box.netns}
    target = program(spec.argv)
    if target:
        module = target.partition(":")[0]
        # The first few children import the program themselves (on the other core, while
        # we go on); from then on it is imported here, once, and its pages are shared.
        _started[module] = _started.get(module, 0) + 1
        if _started[module] > SHARE_AFTER:
            importlib.import_module(module)
    log = os.open(spec.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()           # else the child would write our buffered output again
    gc.freeze()                  # the collector in a child must not dirty the shared pages
    pid = os.fork()
    if pid == 0:                 # the child: never returns
        _child(spec.argv, spec.box, env, log, report_w, target)
    os.close(log)
    os.close(report_w)
    return pid, report_r


def _child(argv, box: Sandbox, env: dict, log: int, report: int, target: str | None):
    code = 127
    try:
        _children.clear()           # our parent's children are not ours to reap
        _forked.clear()
        os.setsid()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, report)
        os.closerange(report + 1, 1 << 16)
        if box.pod:
            os.umask(0o022)                 # a container's, not the lab's own (077)
            sandbox.enter(box.netns, box.overlays, box.binds, box.keep)
            # (ps shows it so; it cannot later: the pod's /proc, mounted next, is not of its PID namespace)
            sandbox.retitle(["netlab-shim", *argv], {"NETLAB_NETNS": env["NETLAB_NETNS"]})
            shim_r, shim_w = os.pipe2(os.O_CLOEXEC)    # open while the shim lives
            pid1 = os.fork()
            if pid1:
                os.close(report)            # the pod's PID 1 reports how its start went
                os.close(shim_r)
                _shim(pid1)
            os.close(shim_w)
            sandbox.new_proc()
            sandbox.become(box.uid, box.capabilities)
            sandbox.die_with_parent(signal.SIGKILL)     # the shim killed: the whole pod goes (set
            if select.select([shim_r], [], [], 0)[0]:   # after the change of user, which clears it)
                exit_now(137)               # it was, before that held
            os.close(shim_r)
        else:
            os.umask(0o077)                 # an agent's files (leases, status) are root's alone
            if box.netns != HOST:
                netns.setns(box.netns)
        os.chdir(env.get("HOME", "/"))
        if target is None:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)      # as subprocess restores them
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)                     # closes the report on success
        os.environ.clear()
        os.environ.update(env)
        sandbox.retitle(argv, env)
        os.close(report)
        report = -1                 # from here on the program's own: its failures go to its log
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        code = run_program(target, argv)
    except SystemExit as e:
        code = exit_code(e)
    except BaseException as e:    # noqa: BLE001 - reported to the parent, or to the log
        try:
            os.write(report, f"{getattr(e, 'errno', 0) or 0}:{e}".encode())
        except OSError:             # (its program's failure, or a shim's)
            import traceback
            traceback.print_exc()
    finally:
        exit_now(code)


FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def _shim(pid1: int) -> NoReturn:
    """What stays of a pod's process in the host's PID namespace, as a container runtime's
    shim: it passes signals on to the pod's PID 1 and ends as PID 1 ends, which is when
    the kernel has ended every process of the pod (a worker cannot outlive its master)."""
    try:
        for signum in FORWARDED:
            signal.signal(signum, lambda n, _frame: _signal(pid1, n))
        _, status = os.waitpid(pid1, 0)
    except BaseException:
        _signal(pid1, signal.SIGKILL)       # never a pod without its shim
        raise
    if os.WIFSIGNALED(status):          # ended by a signal: so does the shim, for its parent to see
        n = os.WTERMSIG(status)
        if n != signal.SIGKILL:
            signal.signal(n, signal.SIG_DFL)
        os.kill(os.getpid(), n)
        os._exit(128 + n)               # (one whose default is to be ignored)
    os._exit(os.WEXITSTATUS(status))


def pod_init(p: Proc) -> int | None:
    """The host's pid of a pod's PID 1 (the only child of its shim), None if gone."""
    children = descendants(p.pid)
    return children[0] if children else None


def exit_code(e: SystemExit) -> int:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)


def run_program(target: str, argv: list[str]) -> int:
    """Run one of netlab's programs (module:function) in this process as its main, with
    argv's arguments; returns its exit code."""
    module, _, fn = target.partition(":")
    sys.argv = list(argv)
    try:
        return getattr(importlib.import_module(module), fn)(list(argv[1:])) or 0
    except SystemExit as e:
        return exit_code(e)


def exit_now(code: int) -> NoReturn:
    """A forked child's end: its output written, no parent's clean-up run (os._exit)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def alive(p: Proc) -> bool:
    """Running, and the same process (not a reused pid); a zombie whose parent has not
    reaped it yet counts as dead."""
    if p.pid in _children and _children[p.pid].poll() is not None:
        return False
    if p.pid in _forked and _reaped(p.pid):
        return False
    return _start_time(p.pid) == p.start and not _is_zombie(p.pid)


def _reaped(pid: int, block: bool = False) -> bool:
    """Has our forked child `pid` ended (and been reaped now)?"""
    try:
        done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:       # not (or no longer) ours to wait for: /proc tells
        _forked.discard(pid)
        return False
    if done == pid:
        _forked.discard(pid)
        return True
    return False


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()
    elif pid in _forked:
        _reaped(pid, block=True)


def kill(pids: list[int], timeout: float | Sequence[float] = 1.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after `timeout` (at once if 0): one for
    all, or each pid's own (its pod's grace period). Returns once they have all gone (a
    SIGKILL takes effect when its process next runs: one that has not yet died could still fork)."""
    waiting = dict(zip(pids, timeout)) if isinstance(timeout, Sequence) else dict.fromkeys(pids, timeout)
    for pid, limit in waiting.items():
        _signal(pid, signal.SIGTERM if limit else signal.SIGKILL)
    killed: list[int] = []
    t0 = time.monotonic()
    while waiting:
        waiting = {pid: limit for pid, limit in waiting.items() if not _gone(pid)}
        for pid in [pid for pid, limit in waiting.items() if time.monotonic() - t0 >= limit]:
            _signal(pid, signal.SIGKILL)
            del waiting[pid]
            killed.append(pid)
        if waiting:
            time.sleep(0.002)
    for pid in _wait_gone(killed, GONE_WITHIN):
        _reap(pid)          # ours: waits; another's pid still there after a SIGKILL: reused


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


GONE_WITHIN = 2.0     # seconds a SIGKILLed process may take to die (the host busy, say)


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to `timeout` for each of `pids` to end (reaping ours); those still there."""
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if not _gone(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.002)
        left = [pid for pid in left if not _gone(pid)]
    return left


PF_EXITING = 0x4       # the kernel's flag for a process in exit: it runs no code of its own again


def _exiting(pid: int) -> bool:
    """Dying: past the point where it could fork. Its exit may still take a while (a pod's
    last process tears its mount namespace down), which need not be waited for."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return bool(int(f.read().rsplit(")", 1)[1].split()[6]) & PF_EXITING)
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return True


def _gone(pid: int) -> bool:
    if _exiting(pid):
        return True
    if pid in _children:
        if _children[pid].poll() is None:
            return False
        _reap(pid)
        return True
    if pid in _forked:
        return _reaped(pid) or _start_time(pid) is None
    return _start_time(pid) is None or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):     # (the latter: read as it goes)
        return True


def stop(procs: list[Proc], timeout: float | Sequence[float] = 1.0) -> None:
    """Stop these processes and every process under them (a supervisor's program, say,
    which may be in a namespace no longer found by its name); `timeout` as kill's. SIGTERM
    goes to each recorded process alone, as the kubelet sends it to a container's main
    process: a pod's shim passes it on to the pod's PID 1, a supervisor to its program.
    What is still under it once it has gone is killed at once."""
    limits = timeout if isinstance(timeout, Sequence) else [timeout] * len(procs)
    live = [(p, limit) for p, limit in zip(procs, limits) if alive(p)]
    under = [pid for p, _ in live for pid in descendants(p.pid)]
    kill([p.pid for p, _ in live], [limit for _, limit in live])
    kill([pid for pid in under if not _gone(pid)], 0)


def descendants(pid: int) -> list[int]:
    """The processes under `pid`, children first."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop(0)
        children = []
        try:
            for task in os.listdir(f"/proc/{parent}/task"):     # a child belongs to the thread that forked it
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        found += children
        queue += children
    return found


def kill_in(names: list[str], timeout: float = 1.0) -> int:
    """Stop every process in these network namespaces, and what they fork as they are
    stopped, and so on, till none is left (or SWEEPS rounds); how many were stopped."""
    stopped = 0
    for _ in range(SWEEPS):
        pids = in_namespaces(names)
        if not pids:
            break
        kill(pids, timeout)
        stopped += len(pids)
    return stopped


SWEEPS = 20


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
