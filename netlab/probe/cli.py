"""`netlab capture TARGET:IFACE [-c N] [-w FILE] [-t SECONDS] [filter...]`, the probe side.

The netlab CLI resolves TARGET to a namespace name and calls `capture_command`.
"""
from __future__ import annotations

import os
import sys

from netlab.probe.sniffer import Capture
from netlab.probe.runner import ProbeError


def capture_command(ns_name: str, iface: str, count: int | None, write: str | None,
                    timeout: float | None, bpf: str | None) -> int:
    """Print one summary line per packet as it arrives, like tcpdump; returns the exit status.

    Ends after `count` packets, `timeout` seconds or Ctrl-C (exit status 0 for all
    three, as tcpdump's); `write` keeps a pcap, complete also after Ctrl-C.
    """
    try:
        cap = Capture(ns_name, iface, count=count, timeout=timeout, bpf=bpf, write=write, lines=True)
        cap.start()
    except ProbeError as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:   # start() has already ended the worker
        return 130
    print(f"netlab: listening on {cap.where}" + (f", filter {bpf!r}" if bpf else ""),
          file=sys.stderr, flush=True)

    seen = 0
    try:
        try:
            for line in cap.lines():
                print(line, flush=True)
                seen += 1
        except KeyboardInterrupt:
            # The worker ignores SIGINT: ask it to stop, and show the packets it still
            # had queued while it completes the pcap. A second Ctrl-C kills it.
            cap.request_stop()
            for line in cap.lines():
                print(line, flush=True)
                seen += 1
        cap.status()
    except KeyboardInterrupt:
        cap.kill()
        print("netlab: capture interrupted twice, stopped at once", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # our reader went away (`| head`): end the worker, and keep Python from
        # complaining about stdout when it exits
        cap.request_stop()
        cap.close()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ProbeError as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1
    finally:
        cap.close()
    print(f"{seen} packet{'s' if seen != 1 else ''} captured" + (f", written to {write}" if write else ""),
          file=sys.stderr)
    return 0
