"""The real kernel behind netlab.kernel.api.Kernel: named namespaces, netlink inside them,
iptables (legacy and nft), nftables, conntrack, processes and their readiness probes."""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from netlab.kernel import readiness
from netlab.kernel import conntrack, ipset, iptables, links, netns, nft, process
from netlab.kernel.api import Job
from netlab.kernel.local import LocalKernel
from netlab.kernel.process import Proc, Spec

WORKERS = 1    # measured: a second thread only adds GIL contention to netlink requests


def _in(ns: str, fn: Callable[..., Any], args: tuple):
    with links.netlink(ns) as nl:
        return fn(nl, *args)


class RealKernel(LocalKernel):
    iptables_nft = iptables.NFT       # (first: the next line hides the module in this body)
    iptables = iptables.LEGACY
    nft = nft.REAL
    ipset = ipset.REAL

    def create_namespaces(self, names: Sequence[str]) -> None:
        netns.create(list(names))

    def namespace_exists(self, name: str) -> bool:
        return netns.exists(name)

    def netns_file(self, ns: str, name: str, text: str) -> None:
        """A file `ip netns exec` and netlab's sandbox bind over /etc/<name> in that namespace."""
        etc = netns.etc_dir(ns)
        with open(os.open(f"{etc}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), "w") as f:
            f.write(text)
        os.chmod(f"{etc}/{name}", 0o644)

    def run_many(self, jobs: Sequence[Job]) -> list:
        return netns.run_many([(ns, _in, (ns, fn, args), {}) for ns, fn, args in jobs], WORKERS)

    def run_in(self, ns: str, fn: Callable[..., Any], *args) -> Any:
        return self.run_many([(ns, fn, args)])[0]

    def start_many(self, specs: Sequence[Spec]) -> list[Proc | OSError]:
        return process.start_many(list(specs))

    def alive(self, proc: Proc) -> bool:
        return process.alive(proc)

    def forget_udp_to(self, ns: str, keep: dict[str, set[str]]) -> int:
        return conntrack.forget_udp_to(ns, keep)

    def wait_ready(self, probes: dict[str, list[int]], on_ready: Callable[[list[str]], None]) -> set[str]:
        return readiness.wait_ready(probes, on_ready=on_ready)


KERNEL = RealKernel()
