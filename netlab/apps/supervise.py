"""Keeps an outside host's server running, as systemd's Restart=always does on a real host.

    netlab-supervise -- COMMAND [ARGS...]

Restarts COMMAND a second after it exits; SIGTERM is passed on and ends both.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

RESTART_DELAY = 1.0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("netlab-supervise: give -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child: list[subprocess.Popen] = []
    stopping = []

    def stop(*_):
        stopping.append(1)
        if child and child[0].poll() is None:
            child[0].terminate()
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        child[:] = [subprocess.Popen(argv)]
        code = child[0].wait()
        if not stopping:
            print(f"netlab-supervise: {argv[0]} exited with {code}; restarting in {RESTART_DELAY:.0f} s", flush=True)
            time.sleep(RESTART_DELAY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
