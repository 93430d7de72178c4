"""Small programs the lab runs inside pods and outside hosts.

PROGRAMS maps each of netlab's own commands (pyproject.toml's [project.scripts]) to
the module and function it runs, so that the lab can start one in a process forked
from its own, already imported, Python instead of a fresh interpreter (see
netlab.kernel.process.start).
"""
PROGRAMS = {
    "netlab-whoami": "netlab.apps.whoami:main",
    "netlab-connect": "netlab.apps.connect:main",
    "netlab-kube-dns": "netlab.dns.server:main",
    "netlab-kube-dns-pod": "netlab.dns.pod:main",
    "netlab-data-product": "netlab.apps.data_product:main",
    "netlab-business-manager": "netlab.apps.business_manager:main",
    "netlab-db": "netlab.apps.db:main",
    "netlab-supervise": "netlab.apps.supervise:main",
    "netlab-flanneld": "netlab.flannel.agent:main",
    "netlab-kubelet": "netlab.kubelet:main",
    "netlab-apiserver": "netlab.api.server:main",
    "netlab-kube-proxy-health": "netlab.kube_proxy.healthcheck:main",
}
