"""The lab's API files, /run/netlab/<lab>/api/: a CA and the server's certificate it signs
(for every name a client inside or outside the lab uses: incluster.hosts), the lab's bearer
token, the host loopback port. Made once per lab, by whoever needs them first: the lab's
build (pods mount the CA and their service account's token) or `netlab api start`."""
from __future__ import annotations

import fcntl
import os
import secrets
import socket
from pathlib import Path

from netlab.state import LabDir, LabRecord


class Files:
    """/run/netlab/<lab>/api/: root's alone (0700; keys and token 0600)."""

    def __init__(self, lab_dir: LabDir):
        self.lab_dir = lab_dir
        self.dir = lab_dir.path / "api"

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def server_crt(self) -> Path:
        return self.dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def token_file(self) -> Path:
        return self.dir / "token"

    @property
    def port_file(self) -> Path:
        return self.dir / "port"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def token(self) -> str:
        return self.token_file.read_text().strip()

    def port(self) -> int:
        return int(self.port_file.read_text())

    def exist(self) -> bool:
        return all(p.exists() for p in (self.ca_crt, self.server_crt, self.server_key, self.token_file,
                                        self.port_file))

    def make(self, cluster=None) -> None:
        """A CA and a certificate for the API's names it signs, a token, a free port: once per
        lab. `cluster` gives the names (the lab's record when not given). Pods that start at
        once (and a kubelet restarting one) may all call this: one makes them, under a lock of
        its own (the caller may hold the lab's)."""
        if self.exist():
            return
        from netlab import tls
        from netlab.api import incluster
        fd = os.open(self.lab_dir.path / "api.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.exist():
                return
            c = cluster if cluster is not None else LabRecord(self.lab_dir.name).cluster()
            self.dir.mkdir(mode=0o700, exist_ok=True)
            self.dir.chmod(0o700)
            pem = tls.self_signed(incluster.hosts(c), issuer=f"netlab {self.lab_dir.name} API CA")
            write(self.ca_crt, pem["ca.crt"], 0o644)
            write(self.server_crt, pem["tls.crt"], 0o644)
            write(self.server_key, pem["tls.key"], 0o600)
            write(self.token_file, secrets.token_urlsafe(32).encode(), 0o600)
            write(self.port_file, str(free_port()).encode(), 0o600)     # last: exist() says all are there
        finally:
            os.close(fd)


def write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def free_port() -> int:
    """A port of the host's loopback nobody listens on now (the server binds it, and keeps it
    across its restarts, so a kubeconfig stays right)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
