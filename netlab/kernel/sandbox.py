"""The system calls that put a freshly forked process into its pod, as a container
runtime does before it runs the container's program: the pod's network namespace;
mount, IPC and PID namespaces of its own (empty /tmp, /dev/shm and /run, the pod's
/etc/netns files over /etc, its volumes, a /proc of its own processes); its user
without a way back to root, and the default container capabilities at most.

Called only in a child between fork and exec (or the in-process start of one of
netlab's own programs): each function changes the calling process for good.
"""
from __future__ import annotations

import ctypes
import os
from typing import Sequence

from netlab.kernel import netns
from netlab.model.capabilities import DEFAULT, NUMBERS

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 0x20, 0x1000, 0x4000, 0x80000
MNT_DETACH = 2
PR_SET_NAME, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 15, 24, 38, 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

# A pod's own, empty at its start: nothing of the host's in them, so no host file and
# no host unix socket (the system bus, a container engine's) is reachable from the pod.
PRIVATE = ("/tmp", "/dev/shm", "/run")

def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def private_mounts() -> None:
    """Mount and IPC namespaces of our own (the mounts still see the host's later
    unmounts: slave), and a PID namespace for our children: the first is its PID 1."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID), "unshare mount, IPC and PID namespaces")
    mount(None, "/", None, MS_SLAVE | MS_REC)


def is_private(path: str) -> bool:
    """Under one of the pod's own directories (PRIVATE)."""
    return any(path == p or path.startswith(p + "/") for p in PRIVATE)


def private_dirs(keep: Sequence[str]) -> None:
    """An empty tmpfs over each of PRIVATE; the directories in `keep` that one would hide
    (the pod's own under the labs' run directory, netlab's installation) bound back there."""
    held = [os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep]
    for point in PRIVATE:
        mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755" if point == "/run" else "mode=1777")
    for path, fd in zip(keep, held):
        if is_private(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def new_proc() -> None:
    """/proc of this PID namespace (by its PID 1): ps shows the pod's processes only."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def netns_files(netns_name: str) -> None:
    """What `ip netns exec` adds: /sys showing the namespace's devices, and every file of
    /etc/netns/<ns>/ (resolv.conf) over its namesake in /etc."""
    _check(_libc.umount2(b"/sys", MNT_DETACH), "umount /sys")
    mount(netns_name, "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    etc = f"{netns.ETC}/{netns_name}"
    for entry in sorted(os.listdir(etc)) if os.path.isdir(etc) else []:
        target = os.path.realpath(f"/etc/{entry}")
        if not os.path.exists(target) and is_private(target):
            # /etc/resolv.conf -> /run/systemd/resolve/...: a file to bind over, in the pod's /run
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        if os.path.exists(target):
            mount(f"{etc}/{entry}", target, None, MS_BIND)


def _option(path: str) -> str:
    """A path inside overlayfs's comma-separated options (its parser takes \\ escapes)."""
    return "".join("\\" + ch if ch in "\\,:" else ch for ch in path)


def overlay(point: str, layer: str) -> None:
    """A private writable layer over `point` (where a missing mount point is made)."""
    mount("netlab-pod", point, "overlay", 0,
          f"lowerdir={_option(point)},upperdir={_option(layer + '/upper')},workdir={_option(layer + '/work')}")


def bind_read_only(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    mount(source, target, None, MS_BIND)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 40


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _bounding(kept: Sequence[str]) -> None:
    """Only `kept` in the bounding set: all an exec'd program could ever have."""
    numbers = {NUMBERS[n] for n in kept}
    for cap in range(_last_cap() + 1):
        if cap not in numbers:
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def _capset(kept: Sequence[str]) -> None:
    """Only `kept` in this process's own sets (one of netlab's programs runs on without an exec)."""
    numbers = {NUMBERS[n] for n in kept}
    words = [sum(1 << (n - 32 * i) for n in numbers if 32 * i <= n < 32 * (i + 1)) for i in (0, 1)]
    data = (_CapData * 2)(*(_CapData(w, w, 0) for w in words))
    _check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "capset")     # version 3


def become(uid: int, kept: Sequence[str] = DEFAULT) -> None:
    """The pod's user (and group of the same number), no supplementary groups, no set-uid
    program that could raise its privileges; root keeps the `kept` capabilities, another
    user none (as a container runtime gives them: to root only)."""
    _bounding(kept)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)          # another user: drops the permitted and effective sets
    if uid == 0:
        _capset(kept)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def enter(netns_name: str, overlays: Sequence[tuple[str, str]] = (), binds: Sequence[tuple[str, str]] = (),
          keep: Sequence[str] = ()) -> None:
    """All but the user, in the order the pod's files need: network, namespaces, the
    private directories, layers before the volumes bound into them, the namespace's /etc
    files last. The next child forked is the pod's PID 1 (it calls new_proc and become)."""
    netns.setns(netns_name)
    private_mounts()
    private_dirs(keep)
    for point, layer in overlays:
        overlay(point, layer)
    for source, target in sorted(binds, key=lambda b: b[1].count("/")):     # /a before /a/b
        bind_read_only(source, target)
    netns_files(netns_name)             # over the layers, which would hide them


def die_with_parent(signal_number: int) -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0)


# ---- what ps shows ------------------------------------------------------------------

def _memory_areas() -> tuple[int, int, int, int]:
    """arg_start, arg_end, env_start, env_end of this process (proc(5), fields 48-51)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return tuple(int(x) for x in fields[45:49])     # type: ignore[return-value]


def retitle(argv: list[str], env: dict[str, str]) -> None:
    """Make /proc/self/cmdline, comm and environ tell what this forked process now runs,
    as they would after an exec: the program's command line, and its environment (the
    lab's NETLAB_NETNS mark first, as far as the original area holds it). The kernel
    reads cmdline on into the environment's area when the argument area's last byte is
    not NUL, which is how a longer command line fits (setproctitle does the same)."""
    arg_start, arg_end, env_start, env_end = _memory_areas()
    if not (arg_start < arg_end <= env_start < env_end):
        return
    title = " ".join(argv).encode(errors="replace")
    area = env_end - arg_start
    words = b"\0".join(a.encode(errors="replace") for a in argv) + b"\0"
    if len(words) <= arg_end - arg_start:
        head, env_at = words.ljust(arg_end - arg_start, b"\0"), env_start
    else:                                           # spills into the environment's area
        head = title[:area - 1] + b"\0"
        env_at = arg_start + len(head)
    ordered = sorted(env.items(), key=lambda kv: kv[0] != "NETLAB_NETNS")
    environ = b"".join(f"{k}={v}".encode(errors="replace") + b"\0" for k, v in ordered)
    ctypes.memmove(arg_start, head, min(len(head), area))
    room = env_end - env_at
    if room > 0:
        ctypes.memmove(env_at, environ[:room].ljust(room, b"\0"), room)
    name = ctypes.create_string_buffer(os.path.basename(argv[0]).encode()[:15] if argv else b"")
    _libc.prctl(PR_SET_NAME, ctypes.addressof(name), 0, 0, 0)
