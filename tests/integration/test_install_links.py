"""scripts/link-commands.sh (what install.sh links): never over another program's `netlab`."""
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "link-commands.sh"
VENV = Path(sys.executable).parent.parent
FOREIGN = b"#!/usr/bin/env python3\n# ipSpace's netlab stands here\nfrom netsim.cli import lab_commands\n"


def link(bin_dir):
    return subprocess.run([str(SCRIPT), str(VENV)], env={**os.environ, "NETLAB_BIN_DIR": str(bin_dir)},
                          capture_output=True, text=True, check=True, timeout=30).stdout


def test_a_foreign_netlab_is_kept_and_kube_netlab_linked(tmp_path):
    (tmp_path / "netlab").write_bytes(FOREIGN)
    os.chmod(tmp_path / "netlab", 0o755)
    for _ in range(2):              # a second run changes nothing, says it again
        out = link(tmp_path)
        assert out.splitlines() == [f"install: {tmp_path}/netlab is another program's and was kept: "
                                    "run netlab as kube-netlab"]
        assert (tmp_path / "netlab").read_bytes() == FOREIGN and not (tmp_path / "netlab").is_symlink()
        assert os.readlink(tmp_path / "kube-netlab") == f"{VENV}/bin/kube-netlab"
        assert os.readlink(tmp_path / "netlab-connect") == f"{VENV}/bin/netlab-connect"
    r = subprocess.run([str(tmp_path / "kube-netlab"), "--help"], capture_output=True, text=True)
    assert r.stdout.startswith("usage: kube-netlab ")


def test_our_own_links_are_renewed_and_a_dangling_one_replaced(tmp_path):
    assert link(tmp_path) == ""
    assert os.readlink(tmp_path / "netlab") == f"{VENV}/bin/netlab"
    assert link(tmp_path) == "" and os.readlink(tmp_path / "netlab") == f"{VENV}/bin/netlab"
    (tmp_path / "netlab").unlink()
    os.symlink(tmp_path / "gone" / "bin" / "netlab", tmp_path / "netlab")   # a venv that was removed
    assert link(tmp_path) == "" and os.readlink(tmp_path / "netlab") == f"{VENV}/bin/netlab"
