"""The container runtime: what a pod's or an agent's process is started with (its files,
user, sandbox, environment and log), and the files kept in step while a pod runs. The
processes themselves start through the kernel seam (Kernel.start_many)."""
from __future__ import annotations

import functools
import os
import shutil
import sys

from netlab import container, layout, pod_status
from netlab.api import incluster
from netlab.api.files import Files
from netlab.ingress import controller as ingress
from netlab.kernel import process
from netlab.log import logger
from netlab.model import capabilities, secrets
from netlab.model.objects import Cluster, Pod
from netlab.state import RUN_DIR, LabDir

# What a pod's private layers must not cover (the lab changes it while the pod runs).
_KEEP_VISIBLE = ("/run/netns", str(RUN_DIR))


def resolve(argv: list[str]) -> list[str]:
    """netlab's own programs (netlab-whoami, ...) come from netlab's environment."""
    own = os.path.join(os.path.dirname(sys.executable), argv[0]) if argv else ""
    return [own, *argv[1:]] if argv and os.path.exists(own) else list(argv)


def reads_store(p: Pod) -> bool:
    """The DNS add-on's programs serve from the store, as kube-dns watches the API server."""
    return bool(p.command) and os.path.basename(p.command[0]) in ("netlab-kube-dns-pod", "netlab-kube-dns")


def agent_box(ns: str) -> process.Sandbox:
    """A node's agent or an outside host's server: the namespace's network, the host's files."""
    return process.Sandbox(ns, pod=False)


@functools.cache
def _installation() -> tuple[str, ...]:
    """Where netlab's Python and programs are, if a pod's own /tmp or /run would hide them
    (a checkout under /tmp, say): the pod sees them there still."""
    import netlab
    from netlab.kernel.sandbox import is_private
    places = {os.path.realpath(sys.prefix), os.path.dirname(os.path.dirname(os.path.realpath(netlab.__file__)))}
    return tuple(sorted(p for p in places if is_private(p)))


@functools.cache
def _pods_as_root() -> bool:
    """Pods run as their own users only if those can run netlab's Python and reach
    their own directory under the labs' run directory."""
    import netlab
    closed = container.reachable_by_others([sys.prefix, sys.base_prefix, os.path.realpath(sys.executable),
                                            os.path.dirname(netlab.__file__), str(RUN_DIR)])
    if closed:
        logger("runtime").warning(f"{closed} is closed to other users, so pods run as root and can read "
                                  f"each other's Secrets (install netlab, and NETLAB_RUN_DIR, outside /root)")
    return bool(closed)


class Runtime:
    def __init__(self, lab_dir: LabDir):
        self.dir = lab_dir

    def spec(self, name: str, argv: list[str], box: process.Sandbox, env: dict) -> process.Spec:
        log = self.dir.logs / layout.log_file(name)
        if box.uid:     # its own user may reopen it (nginx's /dev/stdout), in a directory it cannot enter
            log.touch(mode=0o600)
            os.chown(log, box.uid, box.uid)
        return process.Spec(name, argv, box, str(log), env)

    def agent(self, name: str, argv: list[str], ns: str, env: dict | None = None) -> process.Spec:
        return self.spec(name, resolve(argv), agent_box(ns), dict(os.environ) if env is None else env)

    def supervised(self, name: str, argv: list[str], ns: str, env: dict | None = None) -> process.Spec:
        """An agent or host server kept running by netlab-supervise, as an init system would;
        it says in the lab's directory whether the program runs and how often it restarted."""
        wrapper = ["netlab-supervise", "--status", str(self.dir.agent_status(name)), "--", *resolve(argv)]
        return self.agent(name, wrapper, ns, env)

    def log_failure(self, name: str, reason: str, e: Exception) -> None:
        with open(self.dir.logs / layout.log_file(name), "a") as log:
            log.write(f"{reason}: {e}\n")

    def uid(self, c: Cluster, p: Pod) -> int:
        if p.run_as_user is not None:
            return p.run_as_user
        return 0 if _pods_as_root() else layout.pod_uid(c.name, p)

    def pod(self, c: Cluster, p: Pod) -> process.Spec:
        """The pod's files in place; its process's command line, sandbox and environment."""
        uid = self.uid(c, p)
        home = self.dir.pod_dir(p.namespace, p.name)
        variables = secrets.environment(c, p)
        files = secrets.volume_files(c, p)
        container.private_dir(home, os.geteuid())      # root, as the lab runs
        os.chmod(home, 0o711)
        command = resolve(p.command)
        if ingress.is_controller(p):
            command = ingress.prepare(c, p, home, uid)
        mounts = [self._service_account(c, p, home, uid)]
        for v in p.volumes:
            if v.name in files:
                container.write_files(home / "volumes" / v.name, files[v.name], uid)
                mounts.append(container.Mount(str(home / "volumes" / v.name), v.mount_path))
        overlays = container.overlay_points(mounts, keep=_KEEP_VISIBLE)
        container.make_scratch(home / "layers", overlays)
        # a container's environment: its own variables, not the caller's (root's)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update({"HOME": "/", **incluster.environment(c), **variables, "POD_NAME": p.name,
                    "POD_NAMESPACE": p.namespace, "POD_IP": p.ip, "NODE_NAME": p.node})
        keep = [str(home), *_installation()]
        if reads_store(p):       # what it may read of the store: Services, Endpoints, Pods
            env["NETLAB_STATE"] = str(self.dir.view_file)
            keep.append(str(self.dir.view_file.parent))
        if p.containers:         # its runtime writes how its containers are (netlab.pod_status)
            container.private_dir(pod_status.directory(home), uid)
            env["NETLAB_POD_DIR"] = str(home)
        box = container.sandbox(layout.pod_ns(c.name, p), uid, mounts, overlays, str(home / "layers"), keep,
                                capabilities.effective(p.cap_add, p.cap_drop))
        return self.spec(layout.pod_proc(p.namespace, p.name), command, box, env)

    def _service_account(self, c: Cluster, p: Pod, home, uid: int) -> container.Mount:
        """The namespace's default service account's token, the API's CA and the namespace,
        read-only where the kubelet mounts them (the API's files made first, if the lab's build
        comes before its API server)."""
        files = Files(self.dir)
        files.make(c)
        sa = incluster.service_account_files(files.token(), files.ca_crt.read_bytes(), p.namespace)
        container.write_files(home / "serviceaccount", sa, uid)
        return container.Mount(str(home / "serviceaccount"), incluster.mount_path())

    def refresh(self, c: Cluster, p: Pod, proc: process.Proc | None) -> None:
        """A running pod's (`proc`: its shim, None if it is not running) Secret and ConfigMap
        volumes (a rotated Secret reaches its file) and the ingress controller's configuration
        (its nginx master, the pod's PID 1, reloaded; connections in flight kept)."""
        home = self.dir.pod_dir(p.namespace, p.name)
        if p.volumes:
            try:
                files = secrets.volume_files(c, p)
            except secrets.MissingRef:
                files = {}          # gone: the pod keeps what it had, as the kubelet does
            for v in p.volumes:
                if v.name in files and (home / "volumes" / v.name).is_dir():
                    container.write_files(home / "volumes" / v.name, files[v.name], self.uid(c, p))
        if ingress.is_controller(p) and proc and (home / "nginx").is_dir():
            if ingress.write(c, p, home, self.uid(c, p)):
                master = process.pod_init(proc)
                if master:
                    ingress.reload(master, p.name)

    def preflight(self, c: Cluster, pods: list[Pod]) -> None:
        """What would fail only once the kernel is half changed is checked before."""
        for p in pods:
            container.overlay_points([container.Mount("", v.mount_path) for v in p.volumes], keep=_KEEP_VISIBLE)
        if any(ingress.is_controller(p) for p in c.pods):
            ingress.check(c)

    def forget(self, pods: list[Pod]) -> None:
        for p in pods:
            shutil.rmtree(self.dir.pod_dir(p.namespace, p.name), ignore_errors=True)

    def forget_all_but(self, pods: list[Pod]) -> None:
        """The directories of pods that are not these (an interrupted change's)."""
        keep = {self.dir.pod_dir(p.namespace, p.name).name for p in pods}
        for d in (self.dir.path / "pods").glob("*"):
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)
