"""Shared by the tests that drive a lab's API server with the real kubectl."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

import pytest

from helpers import netlab, unique

from netlab.api import lifecycle
from netlab.lab import Lab
from netlab.model.seed import seed_cluster
from netlab.state import LabDir

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (install.sh installs the "
                                                          "distribution's kubernetes-client)")


@contextlib.contextmanager
def seed_with_api(home, prefix: str = "a"):
    """A seed lab with its API server, as `netlab up` starts it; kubectl's environment (its own
    HOME: kubectl's discovery cache is the test's). Torn down also when the test fails."""
    name = unique(prefix)
    lab = Lab.up(seed_cluster(name, time.time()))
    try:
        lifecycle.start(name)
        config = netlab("kubeconfig", "--name", name).stdout.strip()
        yield lab, {**os.environ, "KUBECONFIG": config, "HOME": str(home)}
    finally:
        if LabDir(name).exists():
            lab.down()


def kubectl(env, *args, check=True, timeout=60, stdin: str | None = None):
    assert KUBECTL is not None
    r = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=timeout, input=stdin)
    if check and r.returncode:
        raise AssertionError(f"kubectl {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r
