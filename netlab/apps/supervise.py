"""Keeps a program running, as a host's init system does (systemd's Restart=always): an
outside host's server, and each node's kubelet and flanneld.

    netlab-supervise [--status FILE] -- COMMAND [ARGS...]

Restarts COMMAND after it exits, one second later at first and twice as long after each
quick exit (up to 30 s; a run of 10 s forgives the past). SIGTERM is passed on and ends
both. --status keeps a small JSON file saying whether COMMAND runs, its pid and how often
it was restarted: what `netlab status` and `get nodes` show.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

RESTART_DELAY = 1.0
MAX_DELAY = 30.0
FORGIVE_AFTER = 10.0


def delay_after(previous: float, ran: float) -> float:
    """The wait before the next start: doubled after a quick exit, reset after a long run."""
    return RESTART_DELAY if ran >= FORGIVE_AFTER or previous <= 0 else min(previous * 2, MAX_DELAY)


def _spawn(argv: list[str]) -> int:
    from netlab.kernel import process
    target = process.program(argv)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            if target:      # netlab's own program: run in this fork, as the lab starts them
                from netlab.kernel import sandbox
                sandbox.retitle(argv, dict(os.environ))      # ps shows the program, not its supervisor
                process.exit_now(process.run_program(target, argv))
            os.execvp(argv[0], argv)
        except OSError as e:
            print(f"netlab-supervise: {argv[0]}: {e.strerror}", file=sys.stderr, flush=True)
        process.exit_now(127)
    return pid


def _report(path: str | None, **status) -> None:
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    status = None
    if argv[:1] == ["--status"] and len(argv) > 1:
        status, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("netlab-supervise: give [--status FILE] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child = [0]
    stopping = []

    def stop(*_):
        stopping.append(1)
        if child[0]:
            try:
                os.kill(child[0], signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop)
    restarts, delay = 0, 0.0
    while not stopping:
        started = time.monotonic()
        child[0] = _spawn(argv)
        _report(status, running=True, pid=child[0], restarts=restarts)
        _, code = os.waitpid(child[0], 0)
        child[0] = 0
        if stopping:
            break
        delay = delay_after(delay, time.monotonic() - started)
        exit_code = os.waitstatus_to_exitcode(code)
        why = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited with {exit_code}"
        _report(status, running=False, pid=None, restarts=restarts, last=why, retry_in=delay)
        print(f"netlab-supervise: {argv[0]} {why}; restarting in {delay:.0f} s", flush=True)
        until = time.monotonic() + delay
        while not stopping and time.monotonic() < until:
            time.sleep(0.05)        # a SIGTERM meanwhile ends the wait (a sleep would resume)
        restarts += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
