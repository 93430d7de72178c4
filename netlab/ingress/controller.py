"""The ingress controller's side effects: nginx.conf and certificates on disk, nginx
started and reloaded. What the configuration says comes from `config` (pure).

Files, for a controller pod P of lab L:
  /etc/netns/<P's namespace>/nginx/nginx.conf   /etc/nginx/nginx.conf inside the pod
                                                (`ip netns exec` mounts it there); no secrets in it
  /run/netlab/L/pods/<ns>_<P>/nginx/            nginx's prefix: pid, temp files (the pod's user, 0700)
  /run/netlab/L/pods/<ns>_<P>/ssl/              certificates and keys (0600; the directory is root's,
                                                so nginx's user cannot swap it for a link)
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from netlab import container, layout, tls
from netlab.errors import NetlabError
from netlab.ingress import config
from netlab.kernel import netns
from netlab.model.objects import Cluster, Pod

COMMAND = "nginx-ingress-controller"      # a pod whose command is this runs netlab's controller
CONF = "/etc/nginx/nginx.conf"
RELOAD_TIMEOUT = 5.0


def is_controller(pod: Pod) -> bool:
    return pod.command[:1] == [COMMAND]


def etc_dir(lab: str, pod: Pod) -> Path:
    return Path(netns.ETC) / layout.pod_ns(lab, pod) / "nginx"


def nginx_argv(prefix: Path) -> list[str]:
    return ["nginx", "-c", CONF, "-p", f"{prefix}/", "-e", "stderr"]


def _paths(home: Path) -> config.Paths:
    ssl = home / "ssl"
    return config.Paths(str(home / "nginx"), str(ssl), str(ssl / "default-fake-certificate.pem"))


def prepare(c: Cluster, pod: Pod, home: Path, uid: int) -> list[str]:
    """Before the pod starts: its files in place under the pod's directory `home`;
    returns nginx's command line."""
    if not os.path.isdir("/etc/nginx"):
        raise NetlabError("nginx is not installed (apt-get install nginx): the ingress controller runs it")
    container.private_dir(home / "nginx", uid)
    write(c, pod, home, uid)
    return nginx_argv(home / "nginx")


def write(c: Cluster, pod: Pod, home: Path, uid: int) -> bool:
    """Render and write the configuration and certificates; True if anything changed."""
    paths = _paths(home)
    default = Path(paths.default_cert)
    pems = config.pem_files(c)
    if default.exists():
        pems[default.name] = default.read_bytes()
    else:    # as ingress-nginx does, a throw-away certificate for hosts that have none
        fake = tls.self_signed(["ingress.local"], issuer="Kubernetes Ingress Controller Fake Certificate")
        pems[default.name] = fake["tls.crt"] + fake["tls.key"]
    changed = container.write_files(Path(paths.ssl_dir), pems, uid)
    etc = etc_dir(c.name, pod)
    netns.etc_dir(layout.pod_ns(c.name, pod), "nginx")
    try:
        text = config.render(c, paths)
    except ValueError as e:     # manifests are checked before they get here; topology files too
        raise NetlabError(f"ingress: {e}") from None
    conf = etc / "nginx.conf"
    if not conf.exists() or conf.read_text() != text:
        tmp = etc / ".nginx.conf.tmp"
        tmp.write_text(text)
        tmp.chmod(0o644)
        os.replace(tmp, conf)     # a directory mount: the pod sees the new file at once
        changed = True
    return changed


def check(c: Cluster) -> None:
    """The configuration renders (before a change reaches the kernel)."""
    try:
        config.render(c, _paths(Path("/nonexistent")))
    except ValueError as e:
        raise NetlabError(f"ingress: {e}") from None


def _workers(master: int) -> dict[int, int]:
    """nginx's worker processes: pid -> start time."""
    out: dict[int, int] = {}
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except FileNotFoundError:
        return out
    for pid in map(int, children):
        try:
            out[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return out


def _accepting(pid: int) -> bool:
    """A worker told to quit closes its listening sockets and says so in its title."""
    try:
        return b"shutting down" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def reload(master: int, name: str) -> None:
    """SIGHUP: nginx re-reads its configuration, starts new workers and lets the old ones
    finish the requests they hold. Returns once only new workers accept connections, so
    the change is live for every request that follows."""
    try:
        if Path(f"/proc/{master}/comm").read_text().strip() != "nginx":
            return                       # still starting (ip, setpriv): it will read the new file
    except FileNotFoundError:
        return                           # not running: it reads the new file when the kubelet restarts it
    before = set(_workers(master))
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while time.monotonic() < deadline:
        if set(_workers(master)) - before and not any(_accepting(pid) for pid in before):
            return
        time.sleep(0.005)
    raise NetlabError(f"nginx in {name} did not reload within {RELOAD_TIMEOUT:.0f}s (netlab logs {name})")
