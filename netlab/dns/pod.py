"""netlab-kube-dns-pod: the kube-dns pod's runtime, the one process the lab records for it.

    netlab-kube-dns-pod [--state STATE] [--pod-dir DIR] [--pod-ip IP]

It starts the add-on's four containers (netlab.dns.addon) as its children inside the
pod's namespaces, restarts one that dies (after a back-off that doubles, as the kubelet's
CrashLoopBackOff, shortened; the first restart at once) and counts its restarts, probes
each one's readiness, and writes all of it to the pod's status file (netlab.pod_status),
which `get pods` and `describe pod` read. SIGTERM stops every container. None outlives
it: each is started with PR_SET_PDEATHSIG, and the runtime is PID 1 of the pod's PID
namespace (netlab's container runtime gives every pod one), whose end takes down what is
left in it (dnsmasq drops its privileges itself, which clears the parent-death signal).

When kubedns's records change it writes a byte to a pipe; the runtime then sends dnsmasq
SIGHUP, which clears its cache: an answer dnsmasq holds is never older than the records.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import pwd
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netlab import pod_status
from netlab.dns import addon
from netlab.kernel import process, sandbox

PR_SET_PDEATHSIG = 1
BACKOFF = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)     # seconds before the 1st, 2nd, ... restart
BACKOFF_RESET = 30.0                           # running this long: the back-off starts again
PROBE_FAST, PROBE_SLOW = 0.02, 1.0             # until every container is ready, then
STOP_TIMEOUT = 0.8

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Run:
    """One container as the runtime keeps it."""
    spec: addon.Container
    pid: int | None = None
    started: float = 0.0            # monotonic
    started_at: float = 0.0         # unix time
    restarts: int = 0
    failures: int = 0               # deaths in a row (the back-off's step)
    due: float = 0.0                # when a dead one is started again
    ready: bool = False
    last: str = ""                  # how it ended last time

    def status(self) -> dict:
        s = self.spec
        out = {"name": s.name, "ready": self.ready, "restarts": self.restarts, "pid": self.pid,
               "command": list(s.argv), "ports": [list(p) for p in s.ports]}
        if self.pid is not None:
            out.update(state="running", started=self.started_at)
        else:
            reason = "CrashLoopBackOff" if self.restarts or self.last else "ContainerCreating"
            out.update(state="waiting", reason=reason)
        if self.last:
            out["last"] = self.last
        return out


def dnsmasq_user() -> str:
    """The distribution's own user for dnsmasq, else nobody; none (the pod's) when the pod
    does not run as root (dnsmasq changes its user only when given one)."""
    if os.getuid() != 0:
        return ""
    for name in ("dnsmasq", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return "nobody"


def _start_time(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _close_fds(keep: set[int]) -> None:
    for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _child_setup(parent_seen: int, keep: set[int]) -> None:
    """In a fresh child: die with the runtime, our signal set-up undone, no fds but ours."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_seen:          # the runtime died before the line above
        os._exit(1)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGINT, signal.SIGPIPE,
                   signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _close_fds(keep)


class Runtime:
    def __init__(self, specs: list[addon.Container], pod_dir: Path, notify_r: int, keep: dict[str, set[int]],
                 parent_seen: int, qname: str = addon.probe_name("cluster.local")):
        self.qname = qname                   # what the DNS readiness probes ask
        self.runs = [Run(s) for s in specs]
        self.pod_dir = pod_dir
        self.notify_r = notify_r
        self.keep = keep                     # container -> fds it inherits
        self.parent_seen = parent_seen       # what a child's getppid() says while we live
        self.stopping = False
        self.written: list[dict] | None = None   # the statuses last written
        self.next_probe = 0.0
        self.me = (os.getpid(), _start_time(os.getpid()))

    # ---- containers
    def start(self, r: Run) -> None:
        spec = r.spec
        pid = os.fork()
        if pid == 0:
            code = 127
            try:
                _child_setup(self.parent_seen, self.keep.get(spec.name, set()))
                if spec.target is None:
                    os.execvp(spec.argv[0], list(spec.argv))
                sandbox.retitle(list(spec.argv), dict(os.environ))
                code = process.run_program(spec.target, list(spec.argv))
            except SystemExit as e:
                code = process.exit_code(e)
            except BaseException as e:       # noqa: BLE001 - to the pod's log
                print(f"kube-dns pod: container {spec.name}: {e}", file=sys.stderr, flush=True)
            finally:
                process.exit_now(code)
        r.pid, r.started, r.started_at, r.ready = pid, time.monotonic(), time.time(), False
        self.next_probe = 0.0                # probed at once, then often until ready
        print(f"kube-dns pod: container {spec.name} started (pid {pid})", flush=True)

    def died(self, pid: int, status: int) -> None:
        r = next((r for r in self.runs if r.pid == pid), None)
        if r is None:
            return
        now = time.monotonic()
        if now - r.started > BACKOFF_RESET:
            r.failures = 0
        delay = BACKOFF[min(r.failures, len(BACKOFF) - 1)]
        r.failures += 1
        r.pid, r.ready, r.due, r.last = None, False, now + delay, _exit_text(status)
        print(f"kube-dns pod: container {r.spec.name} {r.last}; restart in {delay:.0f} s", flush=True)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.died(pid, status)

    # ---- readiness
    def probe(self, r: Run) -> bool:
        kind, port = r.spec.probe
        if kind == "dns":
            return _dns_probe(port, self.qname)
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def write_status(self) -> None:
        statuses = [r.status() for r in self.runs]
        if statuses != self.written:
            pod_status.write(self.pod_dir, *self.me, statuses)
            self.written = statuses

    def clear_cache(self) -> None:
        while True:
            try:
                if not os.read(self.notify_r, 512):
                    break
            except BlockingIOError:
                break
        for r in self.runs:
            if r.spec.name == "dnsmasq" and r.pid is not None:
                try:
                    os.kill(r.pid, signal.SIGHUP)      # dnsmasq: clear the cache
                except ProcessLookupError:
                    pass

    # ---- the loop
    def run(self) -> int:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

        def stop(*_):
            self.stopping = True
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for r in self.runs:
            self.start(r)
        self.write_status()
        while not self.stopping:
            now = time.monotonic()
            for r in self.runs:
                if r.pid is None and now >= r.due and not self.stopping:
                    r.restarts += 1
                    self.start(r)
            if time.monotonic() >= self.next_probe:
                for r in self.runs:
                    if r.pid is not None:
                        r.ready = self.probe(r)
                every = PROBE_SLOW if all(r.ready for r in self.runs) else PROBE_FAST
                self.next_probe = time.monotonic() + every
            self.write_status()
            due = [r.due for r in self.runs if r.pid is None] + [self.next_probe]
            timeout = max(0.0, min(due) - time.monotonic())
            try:
                readable, _, _ = select.select([wake_r, self.notify_r], [], [], timeout)
            except InterruptedError:
                readable = []
            if wake_r in readable:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
            self.reap()
            if self.notify_r in readable:
                self.clear_cache()
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        pids = [r.pid for r in self.runs if r.pid is not None]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(r.pid is not None for r in self.runs) and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.01)
        for r in self.runs:
            if r.pid is not None:
                try:
                    os.kill(r.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.reap()
        for r in self.runs:
            r.ready = False
        self.write_status()
        print("kube-dns pod: stopped", flush=True)


def _dns_probe(port: int, qname: str) -> bool:
    from netlab.dns.sidecar import query
    import dns.rcode
    try:
        return query("127.0.0.1", port, qname, timeout=0.2).rcode() in (
            dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
    except Exception:        # noqa: BLE001 - no answer, or not one: not ready
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-kube-dns-pod", description=__doc__.splitlines()[0])
    p.add_argument("--state", default=os.environ.get("NETLAB_STATE"), help="the lab's state.json")
    p.add_argument("--pod-dir", default=os.environ.get("NETLAB_POD_DIR"),
                   help="where the status file goes (default: the pod's directory, from the lab)")
    p.add_argument("--pod-ip", default=os.environ.get("POD_IP", ""))
    a = p.parse_args(argv)
    if not a.state:
        p.error("--state (or NETLAB_STATE) is required")
    from netlab.model.objects import Cluster
    cluster = Cluster.from_dict(json.loads(Path(a.state).read_text())["cluster"])
    pod_dir = Path(a.pod_dir or ".")
    import netlab.dns.server  # noqa: F401 - imported once here, shared by the containers forked from us
    import netlab.dns.sidecar  # noqa: F401
    notify_r, notify_w = os.pipe()
    os.set_blocking(notify_r, False)
    specs = addon.containers(cluster.dns_domain, a.pod_ip, dnsmasq_user(), cluster.dns_upstream, notify_w)
    rt = Runtime(specs, pod_dir, notify_r, {"kubedns": {notify_w}}, os.getpid(), addon.probe_name(cluster.dns_domain))
    print(f"kube-dns pod: containers {', '.join(s.name for s in specs)}", flush=True)
    return rt.run()


if __name__ == "__main__":
    sys.exit(main())
