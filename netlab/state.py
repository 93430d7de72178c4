"""A lab's state under /run/netlab/<name>/: the cluster as stored by the "API server",
the namespaces it owns, and its processes. Writes are atomic renames; changes take
an exclusive lock."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

from netlab import layout
from netlab.errors import NetlabError

RUN_DIR = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))
# /run is gone after a reboot, /etc/netns is not: a mark per lab that outlives /run
MARK_DIR = Path(os.environ.get("NETLAB_MARK_DIR", "/var/lib/netlab/labs"))


def labs() -> list[str]:
    try:
        return sorted(p.name for p in RUN_DIR.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


class LabDir:
    def __init__(self, name: str):
        self.name = name
        self.path = RUN_DIR / name

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def view_file(self) -> Path:
        """What a pod of the DNS add-on reads of the store (see view())."""
        return self.path / "view" / "cluster.json"

    @property
    def leases(self) -> Path:
        return self.path / "leases"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def pod_dir(self, namespace: str, name: str) -> Path:
        """A pod's own files (volumes, the ingress's nginx): each pod's user owns its own."""
        return self.path / "pods" / layout.fit(f"{namespace}_{name}")

    def proxy_health(self, node: str) -> Path:
        """What kube-proxy's health servers on `node` answer (netlab.kube_proxy.healthcheck's
        state file, written by every dataplane sync)."""
        return self.path / f"kube-proxy-health-{node}.json"

    def agent_status(self, name: str) -> Path:
        """What netlab-supervise says of the program it keeps running (see netlab.apps.supervise)."""
        return self.path / layout.fit(name.replace("/", "_") + ".status")

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> None:
        """Claim the name; a second `up` of the same name fails here."""
        RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            self.path.mkdir(mode=0o700)
        except FileExistsError:
            raise NetlabError(f"lab {self.name!r} exists already (netlab down --name {self.name}, "
                              "or netlab clean after a crash)") from None
        # others may pass through (to their pod's own directory), not list; the state
        # (it holds the Secrets) and the logs stay root's
        self.path.chmod(0o711)
        self.logs.mkdir(mode=0o700)
        (self.path / "pods").mkdir(mode=0o711)
        (self.path / "pods").chmod(0o711)
        MARK_DIR.mkdir(parents=True, exist_ok=True)
        (MARK_DIR / self.name).touch()

    @contextlib.contextmanager
    def lock(self, wait: bool = True):
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise NetlabError(f"lab {self.name!r} is busy (another netlab command holds its lock)") from None
            yield
        finally:
            os.close(fd)

    def read(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            raise NetlabError(f"lab {self.name!r} is not running (netlab up --name {self.name})") from None

    def write(self, state: dict) -> None:
        # every change counts one: the API server's resourceVersions (netlab.api) are this counter;
        # a change's own mark ("changing") and a write of the same record again do not count
        core = json.dumps({k: v for k, v in state.items() if k not in _UNCOUNTED}, sort_keys=True,
                          separators=(",", ":"))
        digest = hashlib.sha256(core.encode()).hexdigest()[:16]
        if state.get("digest") != digest:
            state["revision"], state["digest"] = int(state.get("revision", 0)) + 1, digest
        # one line, so that json's C encoder writes it (indenting takes the Python one: 5x slower)
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        _replace(self.state_file, text, 0o600)
        if "cluster" in state:
            self.view_file.parent.mkdir(exist_ok=True)
            self.view_file.parent.chmod(0o755)
            _replace(self.view_file, json.dumps({"cluster": view(state["cluster"])}, sort_keys=True,
                                                separators=(",", ":")), 0o644)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        (MARK_DIR / self.name).unlink(missing_ok=True)


_UNCOUNTED = ("revision", "digest", "changing")


def _replace(path: Path, text: str, mode: int) -> None:
    """Write `path` anew at once: a reader sees the old content or the new, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# What kube-dns may read, as its RBAC lets it list Services, Endpoints and Pods: no
# Secrets, ConfigMaps, templates or pods' commands and variables (a password may be one).
_HIDDEN = ("secrets", "config_maps", "deployments")
_POD_FIELDS = ("name", "namespace", "node", "ip", "labels", "owner", "created", "ready", "restarts")


def view(cluster: dict) -> dict:
    """The cluster (as stored) with only what a DNS server needs to know of it (pure)."""
    out = {k: v for k, v in cluster.items() if k not in _HIDDEN}
    out["pods"] = [{k: p[k] for k in _POD_FIELDS if k in p} for p in cluster.get("pods", [])]
    return out


class LabRecord:
    """A lab as its record tells it: what every command reads (netlab.lab.Lab, which
    changes labs, builds on it; this stays light, so reading a lab is quick)."""

    def __init__(self, name: str):
        self.name = name
        self.dir = LabDir(name)

    def state(self) -> dict:
        return self.dir.read()

    def cluster(self):
        from netlab.model.objects import Cluster
        return Cluster.from_dict(self.state()["cluster"])

    def procs(self) -> list:
        from netlab.kernel.process import Proc
        return [Proc(**p) for p in self.state().get("procs", {}).values()]

    def nodes_down(self, c) -> dict[str, str]:
        """Nodes whose kubelet or flanneld is not running, with why: NotReady."""
        down = self.agents_down()
        agents = {n.name: (f"kubelet-{n.name}", f"flanneld-{n.name}") for n in c.nodes}
        return {node: "; ".join(down[a] for a in names if a in down)
                for node, names in agents.items() if set(names) & set(down)}

    def agents_down(self) -> dict[str, str]:
        """Agents and servers that are not running (name -> why): kubelet-node1, flanneld-node2, host/db."""
        from netlab.kernel import process
        supervised = [p for p in self.procs() if not p.name.startswith("pod/")]
        return {p.name: why for p in supervised if (why := why_down(self.dir, p.name, process.alive(p)))}


def why_down(lab_dir: LabDir, name: str, alive: bool) -> str | None:
    """Why a supervised agent or server is not running (None: it runs), from its supervisor's
    word: "kubelet-node1 was killed by signal 9, restarting (restarts: 1)"."""
    if not alive:
        return f"{name} is not running (nor its supervisor)"
    try:
        status = json.loads(lab_dir.agent_status(name).read_text())
    except (FileNotFoundError, ValueError):
        return None          # not supervised, or not yet said: its process runs
    if status.get("running"):
        return None
    return f"{name} {status.get('last', 'exited')}, restarting (restarts: {status.get('restarts', 0)})"


def marked_gone() -> list[str]:
    """Labs marked as made whose run state is gone (a reboot)."""
    try:
        return sorted(m.name for m in MARK_DIR.iterdir() if not (RUN_DIR / m.name).is_dir())
    except FileNotFoundError:
        return []


class Ledger:
    """A lab's record while a command changes it (holding the lock): what exists, and what
    is about to, is written down before the kernel is asked for it, so that `down` and
    `clean` find everything after a crash at any moment."""

    def __init__(self, lab_dir: LabDir, state: dict):
        self.dir, self.state = lab_dir, state

    @property
    def procs(self) -> dict:
        return self.state["procs"]

    @property
    def waiting(self) -> dict:
        """Pods whose process could not start -> the reason (CreateContainerConfigError, ...)."""
        return self.state.setdefault("waiting", {})

    def proc(self, name: str):
        from netlab.kernel.process import Proc
        rec = self.procs.get(name)
        return Proc(**rec) if rec else None

    def add_proc(self, proc) -> None:
        self.procs[proc.name] = proc.to_dict()

    def pop_proc(self, name: str):
        from netlab.kernel.process import Proc
        rec = self.procs.pop(name, None)
        return Proc(**rec) if rec else None

    def add_namespaces(self, names: list[str]) -> None:
        """On record before they are made (saved)."""
        self.state["namespaces"] += [n for n in names if n not in self.state["namespaces"]]
        self.save()

    def drop_namespaces(self, names: list[str]) -> None:
        gone = set(names)
        self.state["namespaces"] = [n for n in self.state["namespaces"] if n not in gone]

    def save(self, cluster=None) -> None:
        if cluster is not None:
            self.state["cluster"] = cluster.to_dict()
        self.dir.write(self.state)
