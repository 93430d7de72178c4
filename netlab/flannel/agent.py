"""Our flanneld: runs inside a node's namespace, watches the lease store and keeps
flannel.1's routes, neighbours and FDB entries in step with the other nodes.

    python -m netlab.flannel.agent --leases DIR --subnet 172.30.76.0/24 --mode seed \
        --cluster-cidr 172.30.0.0/16 --ready FILE
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from pyroute2 import IPRoute

from netlab.flannel import DEVICE
from netlab.flannel.desired import desired, on_miss, stale
from netlab.flannel.lease import Store
from netlab.kernel import links
from netlab.kernel.api import Namespace, converge
from netlab.log import logger, to_log

log = logger("flanneld")
POLL = 0.05          # seconds between looks at the lease store
RTMGRP_NEIGH = 0x4


def sync(ns: Namespace, leases, subnet: str, mode: str, cluster_cidr: str) -> None:
    """Make flannel.1's FDB, routes and neighbours what the leases ask for; idempotent.
    FDB entries first: a route's next hop is resolved through them."""
    want = desired(leases, subnet, mode, cluster_cidr)

    def logged(fn, what: str):
        def apply(x):
            fn(x)
            log.info(what, x)
        return apply
    converge(ns.fdbs(DEVICE), want.fdbs, logged(ns.replace_fdb, "fdb add %s"), logged(ns.del_fdb, "fdb del %s"))
    converge(ns.routes(DEVICE), want.routes, logged(ns.add_route, "route add %s"),
             logged(ns.del_route, "route del %s"))
    if mode == "routes":
        converge(ns.neighbours(DEVICE, permanent_only=True), want.neighs, logged(ns.replace_neigh, "neigh add %s"),
                 logged(ns.del_neigh, "neigh del %s"))
    else:    # seed: entries come as the kernel misses them; only a stale one goes
        for n in sorted(stale(ns.neighbours(DEVICE), leases, subnet)):
            logged(ns.del_neigh, "neigh del %s")(n)


class Agent:
    def __init__(self, store: Store, subnet: str, mode: str, cluster_cidr: str):
        self.store, self.subnet, self.mode, self.cluster_cidr = store, subnet, mode, cluster_cidr
        self.leases = store.all()
        self.lock = threading.Lock()

    def reconcile(self, ns: Namespace) -> None:
        with self.lock:
            self.leases = leases = self.store.all()
        sync(ns, leases, self.subnet, self.mode, self.cluster_cidr)

    def watch_leases(self) -> None:
        with links.netlink() as ns:
            version = None
            while True:
                now = self.store.version()
                if now != version:
                    try:
                        self.reconcile(ns)
                        version = now
                    except Exception:      # noqa: BLE001 - log, and try again at the next look
                        log.exception("reconcile failed; retrying")
                time.sleep(POLL)

    def answer_misses(self, events: IPRoute) -> None:
        """Seed mode: each RTM_GETNEIGH on flannel.1 is a lookup the kernel wants answered."""
        with links.netlink() as ns:
            dev = ns.index(DEVICE)
            while True:
                for msg in events.get():
                    if msg.get("event") != "RTM_GETNEIGH" or msg.get("ifindex") != dev:
                        continue
                    addr = msg.get("NDA_DST")
                    with self.lock:
                        neigh = on_miss(self.leases, self.subnet, addr) if addr else None
                    if neigh:
                        ns.replace_neigh(neigh, permanent=False)
                        log.info("miss %s -> lladdr %s", addr, neigh.lladdr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="flanneld", description=__doc__.splitlines()[0])
    p.add_argument("--leases", required=True)
    p.add_argument("--subnet", required=True)
    p.add_argument("--mode", choices=("routes", "seed"), default="routes")
    p.add_argument("--cluster-cidr", required=True)
    p.add_argument("--ready", help="file written once the agent serves")
    a = p.parse_args(argv)
    to_log()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    agent = Agent(Store(a.leases), a.subnet, a.mode, a.cluster_cidr)
    events = None
    if a.mode == "seed":
        events = IPRoute()
        events.bind(groups=RTMGRP_NEIGH)
    with links.netlink() as ns:
        agent.reconcile(ns)
    threading.Thread(target=agent.watch_leases, daemon=True, name="leases").start()
    if a.ready:
        Path(a.ready).write_text("ready\n")
    log.info("serving subnet %s, mode %s", a.subnet, a.mode)
    if events is not None:
        agent.answer_misses(events)
    else:
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
