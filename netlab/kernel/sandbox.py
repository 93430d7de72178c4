"""The system calls that put a freshly forked process into its pod, as a container
runtime does before it runs the container's program: the pod's network namespace, a
mount namespace of its own (the pod's /etc/netns files over /etc, its volumes), and
its user without a way back to root.

Called only in a child between fork and exec (or the in-process start of one of
netlab's own programs): each function changes the calling process for good.
"""
from __future__ import annotations

import ctypes
import os
from typing import Sequence

from netlab.kernel import netns

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 0x20, 0x1000, 0x4000, 0x80000
MNT_DETACH = 2
PR_SET_NAME, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 15, 24, 38, 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def private_mounts() -> None:
    """A mount namespace of our own that still sees the host's later unmounts (slave)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    mount(None, "/", None, MS_SLAVE | MS_REC)


def netns_files(netns_name: str) -> None:
    """What `ip netns exec` adds: /sys showing the namespace's devices, and every file of
    /etc/netns/<ns>/ (resolv.conf) over its namesake in /etc."""
    _check(_libc.umount2(b"/sys", MNT_DETACH), "umount /sys")
    mount(netns_name, "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    etc = f"{netns.ETC}/{netns_name}"
    for entry in sorted(os.listdir(etc)) if os.path.isdir(etc) else []:
        target = f"/etc/{entry}"
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


def become(uid: int) -> None:
    """The pod's own user (and group of the same number): no supplementary groups, no
    capabilities in any set, and no set-uid program that could give them back."""
    for cap in range(_last_cap() + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)          # drops the permitted and effective capabilities
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def enter(netns_name: str, uid: int = 0, overlays: Sequence[tuple[str, str]] = (),
          binds: Sequence[tuple[str, str]] = ()) -> None:
    """All of the above, in the order the pod's files need: network, mounts (layers
    before the volumes bound into them, the namespace's /etc files last), the user."""
    netns.setns(netns_name)
    private_mounts()
    for point, layer in overlays:
        overlay(point, layer)
    for source, target in sorted(binds, key=lambda b: b[1].count("/")):     # /a before /a/b
        bind_read_only(source, target)
    netns_files(netns_name)             # over the layers, which would hide them
    if uid:
        become(uid)


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
