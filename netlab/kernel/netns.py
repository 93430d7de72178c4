"""Named network namespaces (/run/netns/NAME, as iproute2 keeps them) and entering them.

The namespace of new sockets is per thread, so work inside a namespace runs in a
thread that entered it (`in_netns`) or in a child process that entered it before exec.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def open_fd(name: str) -> int:
    return os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)


def close_fd(fd: int) -> None:
    os.close(fd)


def setns(name_or_path: str) -> None:
    """Move the calling thread into a namespace (a name under /run/netns or a path)."""
    p = name_or_path if name_or_path.startswith("/") else path(name_or_path)
    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns {p}")
    finally:
        os.close(fd)


def _create_all(names: list[str]) -> None:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for name in names:
            target = path(name)
            fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
            os.close(fd)
            try:
                _check(_libc.unshare(CLONE_NEWNET), f"unshare for {name}")
                _check(_libc.mount(b"/proc/thread-self/ns/net", target.encode(), None, MS_BIND, None),
                       f"mount {target}")
            except OSError:
                os.unlink(target)
                raise
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)


def _shared_run_dir() -> None:
    """Make /run/netns a shared mount point, as `ip netns add` does the first time.

    Otherwise a later `ip netns add` (by a user, or by anything else) binds the
    directory onto itself and hides the namespaces mounted in it before."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    target = NETNS_RUN_DIR.encode()
    if _libc.mount(b"", target, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != 22:   # EINVAL: not a mount point yet
        _check(-1, f"mount --make-rshared {NETNS_RUN_DIR}")
    _check(_libc.mount(target, target, b"none", MS_BIND | MS_REC, None), f"mount --bind {NETNS_RUN_DIR}")
    _check(_libc.mount(b"", target, b"none", MS_SHARED | MS_REC, None), f"mount --make-rshared {NETNS_RUN_DIR}")


def create(names: list[str]) -> None:
    """Create named namespaces: a fresh namespace per name, bind-mounted as iproute2 does.

    Runs in a throw-away thread so the caller's namespace never changes; about 0.6 ms
    each, against 7 ms for a fork per namespace.
    """
    _shared_run_dir()
    error: list[BaseException] = []

    def work():
        try:
            _create_all(names)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(e)

    t = threading.Thread(target=work, name="netns-create")
    t.start()
    t.join()
    if error:
        raise error[0]


# Files `ip netns exec` lays over /etc in a namespace (resolv.conf; the ingress's nginx)
ETC = "/etc/netns"


def etc_dir(name: str, *sub: str) -> str:
    """/etc/netns/<name>[/sub...], made if missing, each readable by all (a pod's user
    reads what is bound over its /etc; netlab itself runs with umask 077)."""
    path = ETC
    for part in ("", name, *sub):
        path = os.path.join(path, part) if part else path
        if not os.path.isdir(path):
            os.mkdir(path)
            os.chmod(path, 0o755)
    return path


def _cannot_exist(name: str) -> bool:
    """Longer than a file name may be: on a record written before names were fitted, say."""
    return len(os.fsencode(name)) > NAME_MAX


NAME_MAX = 255


def remove(name: str) -> None:
    """Unmount and unlink; the kernel frees the namespace and its links when unused. One
    that cannot exist is gone already."""
    if _cannot_exist(name):
        return
    target = path(name)
    while _libc.umount2(target.encode(), MNT_DETACH) == 0:
        pass    # a copy propagated by a recursive bind may sit on top: unmount them all
    if ctypes.get_errno() not in (22, 2):
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target)


def remove_all(names) -> None:
    """Remove namespaces with their /etc/netns files (resolv.conf)."""
    for n in names:
        remove(n)
        shutil.rmtree(f"{ETC}/{n}", ignore_errors=True)


def inode(name: str) -> int | None:
    if _cannot_exist(name):
        return None
    try:
        return os.stat(path(name)).st_ino
    except FileNotFoundError:
        return None


def current_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


_HOME = os.stat("/proc/self/ns/net").st_ino   # where netlab was started


def root_inode() -> int | None:
    """The host's namespace: init's, or where netlab started unless the lab started us
    inside one of its own namespaces (NETLAB_NETNS is set then)."""
    try:
        return os.stat("/proc/1/ns/net").st_ino
    except PermissionError:
        return None if os.environ.get("NETLAB_NETNS") else _HOME


def guard_not_root() -> None:
    """Refuse to change anything in the host's own namespace (the lab must never touch it)."""
    if current_inode() == root_inode():
        raise RuntimeError("netlab refused to change the host's root network namespace")


def run_in(name: str, fn, *args, **kwargs):
    """Call fn inside namespace `name`, in a short-lived thread; returns its result."""
    return run_many([(name, fn, args, kwargs)], workers=1)[0]


def run_many(jobs, workers: int = 2) -> list:
    """Run (name, fn, args, kwargs) jobs, each in a thread that entered namespace `name`.

    pyroute2 0.9 binds a socket to the thread that first uses it: a handle must be
    opened and used in the same thread, which these jobs do.
    """
    def work(name, fn, args, kwargs):
        setns(name)
        return fn(*args, **kwargs)

    with ThreadPoolExecutor(max(1, min(workers, len(jobs)))) as pool:
        futures = [pool.submit(work, *job) for job in jobs]
        return [f.result() for f in futures]


def preexec(name: str):
    """For subprocess.Popen(preexec_fn=...): the child enters the namespace before exec."""
    def enter():
        setns(name)
    return enter
