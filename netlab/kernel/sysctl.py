"""sysctls of the calling thread's network namespace (/proc/sys/net is per namespace)."""
from __future__ import annotations

from netlab.kernel import netns


def write(key: str, value: str | int) -> None:
    """key like "net/ipv4/ip_forward"; slashes keep interface names such as flannel.1 intact."""
    if key.startswith("net/"):
        netns.guard_not_root()
    else:
        raise ValueError(f"netlab only sets per-namespace net/ sysctls, not {key}")
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(f"{value}\n")
