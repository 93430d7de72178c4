"""netlab for other people's tests: a lab as a Python object, and the pytest plugin's fixtures
(netlab/pytest_plugin.py). A test drives the lab the way its user would: `netlab exec`,
`netlab apply`, captures on the lab's interfaces, `netlab export` when it fails.

    def test_my_service_change(lab):
        lab.apply(MANIFEST)
        assert "200" in lab.exec("client", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", URL).stdout
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from netlab import layout
from netlab.errors import NetlabError
from netlab.state import LabRecord

CLI = [sys.executable, "-m", "netlab.cli"]


def unique_name(prefix: str = "pt") -> str:
    """A lab name no other test run picks: the xdist worker's number and random hex."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{prefix}{worker.removeprefix('gw')}{secrets.token_hex(3)}"


class TestLab:
    """A running lab, built by `up` and removed by `down` (the fixtures do both)."""
    __test__ = False                    # not a test class, whatever pytest thinks of its name

    def __init__(self, name: str, source: str | None = None, policy: str | None = None):
        self.name, self.source, self.policy = name, source, policy

    def _netlab(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120):
        r = subprocess.run(CLI + list(args), capture_output=True, text=True, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise NetlabError(f"netlab {' '.join(args)} exited {r.returncode}: {(r.stderr or r.stdout).strip()}")
        return r

    def up(self) -> "TestLab":
        args = ["up", "--name", self.name] + (["-f", self.source] if self.source else [])
        self._netlab(*args, *(["--policy", self.policy] if self.policy else []))
        return self

    def down(self) -> None:
        if LabRecord(self.name).dir.exists():
            self._netlab("down", "--name", self.name, check=False)
        self._netlab("clean", "--name", self.name, check=False)

    def cluster(self):
        return LabRecord(self.name).cluster()

    def exec(self, target: str, *command: str, namespace: str | None = None, check: bool = False,
             timeout: float = 60) -> subprocess.CompletedProcess:
        """COMMAND inside a node, pod or outside host (`netlab exec`); its exit status is kept."""
        ns = ["-n", namespace] if namespace else []
        return self._netlab("exec", "--name", self.name, *ns, target, "--", *command, check=check, timeout=timeout)

    def apply(self, manifests: str | Path) -> str:
        """Kubernetes manifests (YAML text, or a file or directory): what `netlab apply` said."""
        if isinstance(manifests, Path) or (isinstance(manifests, str) and "\n" not in manifests
                                           and Path(manifests).exists()):
            return self._netlab("apply", "--name", self.name, "-f", str(manifests)).stdout
        return self._netlab("apply", "--name", self.name, "-f", "-", input=str(manifests)).stdout

    def delete(self, manifests: str | Path) -> str:
        if isinstance(manifests, Path) or "\n" not in str(manifests) and Path(str(manifests)).exists():
            return self._netlab("delete", "--name", self.name, "-f", str(manifests)).stdout
        return self._netlab("delete", "--name", self.name, "-f", "-", input=str(manifests)).stdout

    def netns(self, target: str, namespace: str | None = None) -> str:
        """The network namespace of a node, outside host or pod of the lab."""
        from netlab.cli import resolve_target
        return resolve_target(self.cluster(), target, namespace)

    @contextmanager
    def capture(self, *where: str, bpf: str | None = None, count: int | None = None, timeout: float | None = None,
                write: str | None = None):
        """Capture on TARGET:IFACE interfaces (node1:eth0, a pod's eth0, ...) while the block runs;
        yields the capture, whose .packets() are (where, time, scapy packet) merged by time."""
        from netlab.probe.sniffer import capture_many
        spots = []
        for w in where:
            target, _, iface = w.partition(":")
            spots.append((self.netns(target), iface or "eth0"))
        with capture_many(spots, bpf=bpf, count=count, timeout=timeout, write=write, labels=list(where)) as cap:
            yield cap

    # ---- the lab's Kubernetes API, as the user's own tools reach it ----------------------------
    @property
    def kubeconfig(self) -> str:
        """The lab's kubeconfig (`netlab kubeconfig`), written once and kept."""
        if not getattr(self, "_kubeconfig", None):
            self._kubeconfig = self._netlab("kubeconfig", "--name", self.name).stdout.strip()
        return self._kubeconfig

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        """The real kubectl (the one on PATH) against the lab; check: a non-zero exit raises."""
        import shutil
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise NetlabError("lab.kubectl: kubectl is not installed (netlab's install.sh installs the "
                              "distribution's kubernetes-client)")
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        r = subprocess.run([kubectl, *args], capture_output=True, text=True, input=input, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise NetlabError(f"kubectl {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    @property
    def client(self):
        """A configured Kubernetes Python client (PyPI `kubernetes`) for the lab: its ApiClient, for
        kubernetes.client.CoreV1Api(lab.client), AppsV1Api(lab.client), watch.Watch() ..."""
        if getattr(self, "_client", None) is None:
            try:
                from kubernetes import config
            except ImportError:
                raise NetlabError("lab.client needs the Kubernetes Python client: pip install kubernetes") from None
            self._client = config.new_client_from_config(config_file=self.kubeconfig)
        return self._client

    def export(self, directory: str | Path) -> Path:
        self._netlab("export", "--name", self.name, str(directory))
        return Path(directory)

    def node_ns(self, node: str) -> str:
        return layout.node_ns(self.name, node)
