"""A pod's sandbox, seen from inside as the pod's own user: its processes alone, its own
/tmp, /dev/shm, /run and IPC, no way to the host's unix sockets, the default container
capabilities at most; the lab's own servers as users of their own, its files root's."""
import json
import os
import pwd
import socket
import stat
import sys
from importlib.util import find_spec

from helpers import eventually, leftovers, netlab, pid_namespace_members, unique

# What the pod's PID 1 finds, printed as one JSON line to its log (then it waits to be stopped).
PROBE = r"""
import json, os, socket, sys, time
def connect(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return "connected"
    except OSError as e:
        return type(e).__name__
mine = os.environ["POD_NAME"]
for d in ("/tmp", "/dev/shm"):
    open(f"{d}/{mine}", "w").write("x")
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(json.dumps({
    "uid": os.getuid(), "pid": os.getpid(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "ipc": os.stat("/proc/self/ns/ipc").st_ino, "pidns": os.readlink("/proc/self/ns/pid"),
    "tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")), "run": sorted(os.listdir("/run")),
    "sockets": {p: connect(p) for p in sys.argv[1:]},
    "cap_eff": int(status["CapEff"], 16), "cap_bnd": int(status["CapBnd"], 16),
}), flush=True)
time.sleep(3600)
"""

CHECKOUT = os.path.dirname(os.path.dirname(find_spec("netlab").origin))      # netlab's own files
DEFAULT_CAPS = 0xa80425fb       # containerd's and Docker's 14 (CHOWN ... AUDIT_WRITE, SETFCAP)
NET_ADMIN, SYS_ADMIN = 1 << 12, 1 << 21


def _pod(name: str, sockets: list[str], security: str = "") -> str:
    args = json.dumps(["-c", PROBE, *sockets])
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  {security}
  containers:
  - name: probe
    image: python
    command: [/usr/bin/python3]
    args: {args}
"""


def _listen(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    os.chmod(path, 0o777)         # anyone may connect: only the sandbox keeps a pod out
    s.listen()
    return s


def _report(lab: str, pod: str) -> dict:
    out = {}

    def found() -> bool:
        lines = [x for x in netlab("logs", pod, "--name", lab, check=False).stdout.splitlines() if x.startswith("{")]
        out.update(json.loads(lines[-1]) if lines else {})
        return bool(lines)
    assert eventually(found, timeout=15, step=0.2), netlab("logs", pod, "--name", lab, check=False)
    return out


def test_a_pod_sees_its_own_processes_files_and_ipc_and_no_host_socket(tmp_path):
    name = unique("box")
    sockets = [f"/run/{name}.sock", f"/tmp/{name}.sock", f"/dev/shm/{name}.sock"]
    listeners = [_listen(p) for p in sockets]
    (tmp_path / "pods.yaml").write_text("---\n".join([
        _pod("own", sockets),
        _pod("other", sockets),
        _pod("root", sockets, "securityContext: {runAsUser: 0}"),
        _pod("netadmin", sockets, "securityContext: {runAsUser: 0}").replace(
            "    args:", "    securityContext: {capabilities: {add: [NET_ADMIN], drop: [NET_RAW]}}\n    args:")]))
    try:
        netlab("up", "-f", str(tmp_path / "pods.yaml"), "--name", name)
        seen = {pod: _report(name, pod) for pod in ("own", "other", "root", "netadmin")}
        host_ipc = os.stat("/proc/self/ns/ipc").st_ino
        # what the pod sees of the host there: its own directory, and netlab's installation if it is there
        shown = {d: {p.split("/")[2] for p in (sys.prefix, CHECKOUT)
                     if p.startswith(f"{d}/")} for d in ("/tmp", "/run")}
        for pod, r in seen.items():
            assert r["pid"] == 1 and r["pids"] == [1], (pod, r["pids"])        # ps: the pod's processes only
            assert r["ipc"] != host_ipc, pod
            assert set(r["tmp"]) == {pod} | shown["/tmp"] and r["shm"] == [pod], (pod, r["tmp"], r["shm"])
            # (secrets: the service account's files, /var/run/secrets/kubernetes.io/serviceaccount)
            assert set(r["run"]) == {"netlab", "secrets"} | shown["/run"], (pod, r["run"])
            assert set(r["sockets"].values()) == {"FileNotFoundError"}, (pod, r["sockets"])
            assert not os.path.exists(f"/tmp/{pod}") and not os.path.exists(f"/dev/shm/{pod}")
        assert len({r["ipc"] for r in seen.values()}) == 4 and len({r["pidns"] for r in seen.values()}) == 4
        assert seen["own"]["uid"] != 0 and seen["own"]["cap_eff"] == 0 and seen["own"]["cap_bnd"] == DEFAULT_CAPS
        assert seen["root"]["uid"] == 0 and seen["root"]["cap_eff"] == DEFAULT_CAPS
        assert not seen["root"]["cap_eff"] & (NET_ADMIN | SYS_ADMIN)
        assert seen["netadmin"]["cap_eff"] == DEFAULT_CAPS & ~(1 << 13) | NET_ADMIN
    finally:
        for s in listeners:
            s.close()
        for p in sockets:
            if os.path.exists(p):
                os.unlink(p)
        netlab("down", "--name", name, check=False)
    assert leftovers(name) == []


def _others_may_read(path: str) -> bool:
    """Another user could read it: every directory on its way open to others, it readable."""
    parts = path.split("/")
    for i in range(2, len(parts)):
        if not os.stat("/".join(parts[:i])).st_mode & stat.S_IXOTH:
            return False
    return bool(os.lstat(path).st_mode & stat.S_IROTH)


def test_the_labs_servers_run_as_users_of_their_own_and_its_files_are_roots():
    """As `netlab up` makes the lab (umask 077 is the command's, not the library's)."""
    from netlab.lab import LabRecord
    name = unique("own")
    try:
        netlab("up", "--name", name, timeout=120)
        _servers_and_files(LabRecord(name))
    finally:
        netlab("down", "--name", name, check=False)
    assert leftovers(name) == []


def _servers_and_files(lab) -> None:
    from netlab.kernel import process
    procs = lab.state()["procs"]
    dns = next(process.Proc(**r) for n, r in procs.items() if n.startswith("pod/kube-system/kube-dns-"))
    assert eventually(lambda: "4/4" in netlab("get", "pods", "-n", "kube-system", "--name", lab.name).stdout,
                      timeout=10)
    uids = set(pid_namespace_members(os.readlink(f"/proc/{process.pod_init(dns)}/ns/pid")).values())
    assert len(uids) >= 1 and 0 not in uids, uids          # kube-dns, dnsmasq, the sidecars: none root
    db = procs["host/db"]["pid"]
    server = [p for p in process.descendants(db) if open(f"/proc/{p}/comm").read().strip() == "mariadbd"]
    assert server and os.stat(f"/proc/{server[0]}").st_uid == pwd.getpwnam("mysql").pw_uid
    readable = []
    for root, dirs, files in os.walk(lab.dir.path):
        if root == str(lab.dir.path):
            dirs.remove("pods")         # each pod's own (tests/unit/test_container.py)
            dirs.remove("view")         # what kube-dns reads: no Secret (tests/unit/test_state_view.py)
        readable += [os.path.join(root, f) for f in dirs + files if _others_may_read(os.path.join(root, f))]
    assert readable == [], readable
    assert not _others_may_read(str(lab.dir.state_file))
