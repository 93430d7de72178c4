"""Shared by the integration tests: unique lab names, the CLI, commands in namespaces."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time

from netlab import layout


def unique(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def netlab(*args: str, check: bool = True, timeout: float = 60, env=None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "netlab.cli", *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"netlab {' '.join(args)} exited {r.returncode}: {r.stderr}{r.stdout}")
    return r


def sigint_as_in_a_terminal() -> None:
    """preexec_fn for a child the test interrupts: Ctrl-C's default action. A shell without job
    control starts background commands with SIGINT ignored (`cmd &` in a script), and a child
    would inherit that: Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sh(ns: str, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """A command inside a lab namespace (never in the host's own)."""
    r = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{ns}: {' '.join(cmd)} exited {r.returncode}: {r.stderr}{r.stdout}")
    return r


def pod_ns(cluster, name: str) -> str:
    return layout.pod_ns(cluster.name, next(p for p in cluster.pods if p.name == name))


def ping(ns: str, dst: str, count: int = 1, wait: float = 2) -> bool:
    return ping_result(ns, dst, count, wait).returncode == 0


def ping_result(ns: str, dst: str, count: int = 1, wait: float = 2) -> subprocess.CompletedProcess:
    """ping's whole result, for tests that say why a ping fails: without -q, so that an ICMP
    error shows as "From ADDR icmp_seq=N Destination Host Unreachable" (or Net, Port, ...)."""
    return sh(ns, "ping", "-n", "-c", str(count), "-W", str(wait), dst, check=False)


def ping_failure(r: subprocess.CompletedProcess) -> tuple[int, int, list[tuple[str, str]]]:
    """Why a ping_result failed: (exit code, replies received, [(who, ICMP error)]), e.g.
    (1, 0, [("192.168.0.1", "Destination Net Unreachable")]); (1, 0, []) is silence (timed out),
    exit code 2 an error before anything was sent ("Network is unreachable" on stderr)."""
    import re
    received = re.search(r"(\d+) received", r.stdout)
    errors = re.findall(r"^From (\S+) icmp_seq=\d+ (.+)$", r.stdout, re.M)
    return r.returncode, int(received.group(1)) if received else -1, errors


def eventually(fn, timeout: float = 1.0, step: float = 0.02):
    """fn's first truthy value within timeout, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# Processes exit and directories go while a test lists them (other labs run on the machine too):
# what vanished between the listing and the read is simply no longer there.
GONE = (FileNotFoundError, ProcessLookupError)


def proc_read(pid: int | str, name: str) -> bytes | None:
    """/proc/PID/NAME, or None if the process has gone (before the open or during the read)."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except GONE:
        return None


def proc_state(pid: int | str) -> str | None:
    """The process's state letter ("R", "S", "Z", ...), None if it has gone."""
    stat = proc_read(pid, "stat")
    return stat.rsplit(b")", 1)[1].split()[0].decode() if stat else None


def listdir(path: str) -> list[str]:
    """os.listdir, [] if the directory is not there (or has just gone)."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def pid_namespace_members(ns: str) -> dict[int, int]:
    """The living processes of PID namespace `ns` (as /proc/PID/ns/pid reads): pid -> uid."""
    found = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{p}/ns/pid") == ns and proc_state(p) not in (None, "Z"):
                found[int(p)] = os.stat(f"/proc/{p}").st_uid
        except (FileNotFoundError, PermissionError):      # gone; or not ours to look at (the host's init)
            continue
    return found


def leftovers(name: str) -> list[str]:
    """Everything of lab `name` still on the machine: namespaces, mounts, state, /etc/netns."""
    found = [f"netns {n}" for n in listdir("/run/netns") if n.startswith(f"{name}-")]
    with open("/proc/mounts") as f:
        found += [f"mount {line.split()[1]}" for line in f if f"/run/netns/{name}-" in line]
    if os.path.exists(f"/run/netlab/{name}"):
        found.append(f"state /run/netlab/{name}")
    found += [f"/etc/netns/{n}" for n in listdir("/etc/netns") if n.startswith(f"{name}-")]
    # processes the lab started carry NETLAB_NETNS=<its namespace> (and their children too);
    # one that exits between the listing and the reads is not left over, a zombie neither
    mark = f"NETLAB_NETNS={name}-".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = proc_read(pid, "environ")
        except PermissionError:         # not ours to read (the container's init, say): not the lab's
            continue
        if environ is not None and mark in environ and proc_state(pid) not in (None, "Z"):
            found.append(f"process {pid}")
    return found


HOST_SYSCTLS = ["net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables",
                "net/ipv4/neigh/default/app_solicit", "net/ipv4/neigh/default/ucast_solicit",
                "net/ipv4/neigh/default/mcast_solicit", "net/ipv4/conf/all/forwarding"]


def host_snapshot() -> dict[str, str]:
    """What the lab must never change in the host's own namespace (read from this process,
    which runs in it)."""
    import re
    snap = {}
    for cmd in (["ip", "-d", "link", "show"], ["ip", "-4", "addr"], ["ip", "route", "show", "table", "all"],
                ["ip", "rule"], ["iptables-legacy-save"], ["nft", "list", "ruleset"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        text = "\n".join(line for line in r.stdout.splitlines()
                         if not line.startswith("#") and "_lft" not in line)
        snap[" ".join(cmd)] = re.sub(r"\[\d+:\d+\]", "[0:0]", text) + f"\nrc={r.returncode}"
    for key in HOST_SYSCTLS:
        try:
            snap[key] = open(f"/proc/sys/{key}").read().strip()
        except FileNotFoundError:
            snap[key] = "absent"
    return snap


def connect(ns: str, target: str, *args: str, timeout: float = 120) -> dict:
    """netlab-connect inside a lab namespace: {"ok", "failed", "by": {responder: n}, "errors"}."""
    import json
    r = sh(ns, tool("netlab-connect"), target, *args, check=False, timeout=timeout)
    return json.loads(r.stdout.strip().splitlines()[-1])


def apply(lab_name: str, tmp_path, text: str) -> subprocess.CompletedProcess:
    f = tmp_path / f"m{secrets.token_hex(3)}.yaml"
    f.write_text(text)
    return netlab("apply", "-f", str(f), "--name", lab_name)


@contextlib.contextmanager
def running(ns: str, *argv: str):
    """A process of the test's own inside a lab namespace, killed at the end whatever happens."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def tool(name: str) -> str:
    """One of netlab's programs (netlab-whoami, netlab-connect) from this environment."""
    return os.path.join(os.path.dirname(sys.executable), name)


# A pod on node2 with a web server on its named port "http" (8080): the one endpoint of
# the tests' Local-policy Services.
SOLO_POD = """
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  nodeName: node2
  containers: [{name: web, command: [netlab-whoami, --port, "8080"], ports: [{containerPort: 8080, name: http}]}]
---
"""


def scale_under_load(lab: str, client_ns: str, target: str, rounds: int) -> dict:
    """Scales the seed's data-product deployment 1, 5, 3 replicas `rounds` times while
    netlab-connect in `client_ns` opens a connection to `target` every 2 ms; its counts."""
    client = subprocess.Popen(["ip", "netns", "exec", client_ns, tool("netlab-connect"), target,
                               "--seconds", "300", "--interval", "0.002"], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(rounds):
            for n in (1, 5, 3):
                netlab("scale", "deployment", "data-product", "--replicas", str(n), "--name", lab)
    finally:
        client.send_signal(signal.SIGTERM)
        out = client.communicate(timeout=30)[0]
    return json.loads(out.strip().splitlines()[-1])
