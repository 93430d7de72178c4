"""Starting probe workers (netlab.probe.worker) inside a namespace, and talking to them.

The worker's side of the protocol is in worker.py; this is the parent's side, kept
apart so that the package never imports the worker module it runs with `-m`.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
from typing import IO, TYPE_CHECKING, cast

from netlab.errors import NetlabError
from netlab.kernel import netns

READY = "ready"
STREAM_HEAD = "<cdI"   # a --stream record: kind, time, length of the bytes that follow (worker.py)
READY_TIMEOUT = 15.0   # scapy import plus tcpdump compiling the filter take well under 1 s


class ProbeError(NetlabError):
    """A capture or send failed: no such namespace or interface, bad filter, ..."""


if TYPE_CHECKING:
    class WorkerProcess(subprocess.Popen[bytes]):
        """What `start` returns: a Popen whose stdin and stdout are pipes, with `errors` added."""
        stdin: IO[bytes]
        stdout: IO[bytes]
        errors: IO[bytes]


def start(ns: str, args: list[str]) -> WorkerProcess:
    """Start a worker inside namespace `ns`: stdin/stdout are pipes, stderr goes to
    a temporary file kept as `proc.errors` (read by `error_of`)."""
    if not netns.exists(ns):
        raise ProbeError(f"no network namespace {ns!r}")
    # the worker imports netlab from wherever this process found it
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))

    def enter():
        netns.setns(ns)
        # Ctrl-C goes to the whole foreground group; the parent decides how the worker
        # stops (EOF on stdin), so captures always end with a complete pcap
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    errors = tempfile.TemporaryFile()   # a file, not a pipe: a chatty worker never blocks on it
    try:
        proc = cast("WorkerProcess", subprocess.Popen(
            [sys.executable, "-m", "netlab.probe.worker", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            preexec_fn=enter, env=env))
    except subprocess.SubprocessError:
        errors.close()
        raise ProbeError(f"cannot enter network namespace {ns!r} (root needed)") from None
    proc.errors = errors
    return proc


def error_of(proc: WorkerProcess) -> str:
    """The worker's one-line error (last line of its stderr)."""
    proc.errors.seek(0)
    lines = proc.errors.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"worker exited with status {proc.returncode}"


def request(ns: str, req: dict):
    """Run one pickled request in a worker inside `ns`; returns the unpickled result."""
    proc = start(ns, ["request"])
    try:
        out, _ = proc.communicate(pickle.dumps(req))
        if proc.returncode != 0:
            raise ProbeError(f"{ns}: {error_of(proc)}")
        return pickle.loads(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.errors.close()
