"""The lab's API server as a process of the lab: its files (files.py: a CA and a server
certificate, a bearer token, the port), started and stopped on the lab's record like flanneld
and the kubelets (so `down` and `clean` stop it), and a kubeconfig for kubectl."""
from __future__ import annotations

import base64
import os
import socket
import ssl
import time
from pathlib import Path

from netlab.api.files import Files, write
from netlab.errors import NetlabError
from netlab.state import LabDir

PROC = "apiserver"              # its name on the lab's record
READY_TIMEOUT = 10.0


def start(name: str) -> int:
    """Start the lab's API server (if it is not running) as a process on the lab's record;
    returns its port once it answers."""
    from netlab.kernel import process
    from netlab.runtime import Runtime
    from netlab.state import Ledger
    lab_dir = LabDir(name)
    if not lab_dir.exists():
        raise NetlabError(f"lab {name!r} is not running (netlab up --name {name})")
    files = Files(lab_dir)
    with lab_dir.lock():
        ledger = Ledger(lab_dir, lab_dir.read())
        running = ledger.proc(PROC)
        if running is None or not process.alive(running):
            files.make()
            # in netlab's own (the host's) network namespace: it listens on the host's loopback.
            # Not kept running by netlab-supervise: it ends itself when the lab's directory goes
            # (a record removed by hand, say), and nothing may start it again then.
            spec = Runtime(lab_dir).agent(PROC, ["netlab-apiserver", "--lab", name], process.HOST)
            ledger.add_proc(process.start(spec))
            ledger.save()
    wait_ready(files)
    return files.port()


def wait_ready(files: Files, timeout: float = READY_TIMEOUT) -> None:
    ctx = ssl.create_default_context(cafile=str(files.ca_crt))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", files.port()), timeout=1) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                              + files.token().encode() + b"\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise NetlabError(f"the API server of lab {files.lab_dir.name!r} does not answer after {timeout:.0f}s; "
                              f"see {files.lab_dir.logs}/{PROC}.log")
        time.sleep(0.02)


def stop(name: str) -> bool:
    """Stop the lab's API server; False if it was not running."""
    from netlab.kernel import process
    from netlab.state import Ledger
    lab_dir = LabDir(name)
    with lab_dir.lock():
        ledger = Ledger(lab_dir, lab_dir.read())
        proc = ledger.pop_proc(PROC)
        if proc is None:
            return False
        process.stop([proc])
        ledger.save()
    return True


def orphans(name: str) -> list[int]:
    """API servers of lab `name` running without its record (by their command line): what
    `clean --name` stops when the record is gone (they are in none of the lab's namespaces)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 3 and os.path.basename(argv[0]) == b"netlab-apiserver" and \
                argv[1:3] == [b"--lab", name.encode()]:
            found.append(int(pid))
    return found


def kubeconfig(name: str) -> Path:
    """A kubeconfig for the lab (cluster, user with the token, a context named after the lab),
    written in the lab's directory (0600); its path."""
    import yaml
    files = Files(LabDir(name))
    if not files.exist():
        raise NetlabError(f"lab {name!r} has no API server (netlab api start --name {name})")
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": name, "cluster": {
               "server": f"https://127.0.0.1:{files.port()}",
               "certificate-authority-data": base64.b64encode(files.ca_crt.read_bytes()).decode()}}],
           "users": [{"name": f"{name}-admin", "user": {"token": files.token()}}],
           "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"}}],
           "current-context": name}
    write(files.kubeconfig, yaml.safe_dump(doc, sort_keys=False).encode(), 0o600)
    return files.kubeconfig


def merged(theirs: dict | None, lab: dict) -> dict:
    """A user's kubeconfig with the lab's cluster, user and context added (replacing entries
    of the same names) and made current, as `kind` merges its clusters (pure)."""
    out = dict(theirs or {})
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for key in ("clusters", "users", "contexts"):
        names = {entry["name"] for entry in lab[key]}
        out[key] = [e for e in (out.get(key) or []) if e.get("name") not in names] + lab[key]
    out["current-context"] = lab["current-context"]
    return out


def merge_into(name: str, path: Path) -> Path:
    """`netlab kubeconfig --merge`: the lab's entries written into the user's kubeconfig at `path`
    (made if missing; replaced whole in one rename, 0600)."""
    import yaml
    lab = yaml.safe_load(kubeconfig(name).read_text())
    try:
        theirs = yaml.safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError as e:
        raise NetlabError(f"{path}: not a kubeconfig netlab can read ({e}); nothing was changed") from None
    if theirs is not None and not isinstance(theirs, dict):
        raise NetlabError(f"{path}: not a kubeconfig (a mapping); nothing was changed")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.netlab")
    write(tmp, yaml.safe_dump(merged(theirs, lab), sort_keys=False).encode(), 0o600)
    os.replace(tmp, path)
    return path
