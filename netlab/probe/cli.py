"""`netlab capture TARGET:IFACE [TARGET:IFACE...] [-c N] [-w FILE] [-t SECONDS] [filter...]`,
the probe side.

The netlab CLI splits its words with `split_capture_args`, resolves each TARGET to a
namespace name and calls `capture_many_command`; `capture_command` is the one-interface
form for Python callers (lines as tcpdump's, the interface after the time).
"""
from __future__ import annotations

import datetime
import os
import re
import signal
import sys

from netlab.probe.decode import describe
from netlab.probe.sniffer import Capture, Captured, MultiCapture
from netlab.probe.runner import ProbeError

# TARGET:IFACE: exactly one ':'; TARGET a node, host or pod name (or deploy/NAME) with a letter
# in it, IFACE a Linux interface name (at most 15 characters, no '/', ':' or blank).
_INTERFACE = re.compile(r"(?=[^:]*[A-Za-z])([A-Za-z0-9][A-Za-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9._@-]{0,14})")


def split_capture_args(words: list[str]) -> tuple[list[tuple[str, str]], str | None]:
    """The capture's positional words -> ([(TARGET, IFACE), ...], BPF filter or None).

    A word is an interface if it is TARGET:IFACE (see _INTERFACE), wherever it stands;
    every other word, in order, is the filter. No BPF word has that form: IPv6 addresses
    have two ':' or more, MAC addresses five, byte ranges stand in brackets (tcp[13:1]).
    The first word must be an interface, as the one-interface form always required.
    """
    if not words or not _INTERFACE.fullmatch(words[0]):
        first = words[0] if words else ""
        raise ProbeError(f"capture: {first!r} is not TARGET:IFACE (e.g. node1:eth0)")
    ifaces: list[tuple[str, str]] = []
    bpf: list[str] = []
    for word in words:
        m = _INTERFACE.fullmatch(word)
        if m:
            if (m[1], m[2]) in ifaces:
                raise ProbeError(f"capture: {word} given twice")
            ifaces.append((m[1], m[2]))
        else:
            bpf.append(word)
    return ifaces, " ".join(bpf) or None


def merged_line(got: Captured, width: int = 0) -> str:
    """One line of a merged capture: where, time, headers (outer and inner for VXLAN)."""
    when = datetime.datetime.fromtimestamp(got.time).strftime("%H:%M:%S.%f")
    try:
        text = describe(got.packet)
    except Exception:   # noqa: BLE001 - a malformed packet must not end a capture
        text = f"{got.packet.summary()} (malformed?)"
    return f"{got.where:<{width}} {when} {text}"


def capture_many_command(ifaces: list[tuple[str, str, str]], count: int | None, write: str | None,
                         timeout: float | None, bpf: str | None) -> int:
    """`netlab capture` on (label, namespace, interface) triples: one line per packet, merged
    by time, prefixed by the label; returns the exit status.

    Ends after `count` packets in all, `timeout` seconds or Ctrl-C (exit status 0 for the
    three, as tcpdump's), then prints how many packets each interface saw; `write` keeps
    a pcap (pcapng for several interfaces), complete also after Ctrl-C. A second Ctrl-C
    ends the workers at once (exit status 130).
    """
    try:
        cap = MultiCapture([(ns, iface) for _, ns, iface in ifaces], bpf=bpf, count=count, timeout=timeout,
                           write=write, labels=[label for label, _, _ in ifaces], keep=False)
    except ProbeError as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1

    def interrupted(*_) -> None:
        if cap.stop_requested:
            raise KeyboardInterrupt   # the second Ctrl-C
        cap.stop_requested = True      # the stream asks the workers to end, and drains them

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        try:
            cap.start()
        except ProbeError as e:
            print(f"netlab: {e}", file=sys.stderr)
            return 1
        print(f"netlab: listening on {', '.join(cap.labels)}" + (f", filter {bpf!r}" if bpf else ""),
              file=sys.stderr, flush=True)
        width = max(len(label) for label in cap.labels)
        for got in cap:
            print(merged_line(got, width), flush=True)
    except KeyboardInterrupt:   # start() has ended the workers already, kill() ends those of the stream
        cap.kill()
        print("netlab: capture interrupted twice, stopped at once", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # our reader went away (`| head`): end the workers, and keep Python from
        # complaining about stdout when it exits
        cap.close()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ProbeError as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        cap.close()
    n = cap.total
    each = ", ".join(f"{label} {cap.counts[label]}" for label in cap.labels)
    print(f"{n} packet{'s' if n != 1 else ''} captured ({each})" + (f", written to {write}" if write else ""),
          file=sys.stderr)
    return 0


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
