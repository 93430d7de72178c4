"""Linux capabilities as a pod's securityContext names them, and the set a container
runtime (containerd, Docker) leaves a container by default: the rest (SYS_ADMIN,
NET_ADMIN, ...) only when the pod asks for it."""
from __future__ import annotations

from typing import Sequence

# in the kernel's order: a name's position is its number (linux/capability.h)
NUMBERS = {name: number for number, name in enumerate((
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"))}
DEFAULT = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
           "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")


def name(given: str) -> str | None:
    """NET_ADMIN for NET_ADMIN, CAP_NET_ADMIN or net_admin; ALL; None if no such capability."""
    n = given.upper().removeprefix("CAP_")
    return n if n == "ALL" or n in NUMBERS else None


def effective(add: Sequence[str] = (), drop: Sequence[str] = ()) -> tuple[str, ...]:
    """The container's set: the default one without `drop`, with `add` (names as name()
    gives them; ALL stands for every one), in the kernel's order."""
    def expand(names: Sequence[str]) -> set[str]:
        return set(NUMBERS) if "ALL" in names else set(names)
    kept = (set(DEFAULT) - expand(drop)) | expand(add)
    return tuple(sorted(kept, key=NUMBERS.__getitem__))
