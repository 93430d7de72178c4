"""A pod's capabilities: securityContext.capabilities read from manifests, and the set a
container runtime leaves by default (no root needed)."""
import pytest

from netlab.errors import ModelError
from netlab.model import capabilities, manifests


def _pod(security_context: dict) -> str:
    import json
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "c", "image": "x", "command": ["sleep", "1"],
                                                "securityContext": security_context}]}})


def test_default_set_has_no_admin_capabilities():
    got = capabilities.effective()
    assert "NET_BIND_SERVICE" in got and "SETUID" in got and "NET_RAW" in got
    assert "SYS_ADMIN" not in got and "NET_ADMIN" not in got and "SYS_PTRACE" not in got
    assert len(got) == 14


def test_add_and_drop_and_all():
    assert "NET_ADMIN" in capabilities.effective(add=["NET_ADMIN"])
    assert capabilities.effective(drop=["ALL"]) == ()
    assert capabilities.effective(add=["NET_ADMIN"], drop=["ALL"]) == ("NET_ADMIN",)
    assert capabilities.effective(drop=["NET_RAW"]) == tuple(c for c in capabilities.effective() if c != "NET_RAW")
    assert len(capabilities.effective(add=["ALL"])) == len(capabilities.NUMBERS)


def test_names_with_or_without_cap_prefix():
    assert capabilities.name("CAP_NET_ADMIN") == capabilities.name("net_admin") == "NET_ADMIN"
    assert capabilities.name("NET_FLY") is None
    assert capabilities.NUMBERS["NET_ADMIN"] == 12 and capabilities.NUMBERS["SYS_ADMIN"] == 21


def test_manifest_capabilities_are_read(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(_pod({"capabilities": {"add": ["CAP_NET_ADMIN"], "drop": ["ALL"]}}))
    pod = manifests.load(f)[0].obj
    assert (pod.cap_add, pod.cap_drop) == (["NET_ADMIN"], ["ALL"])


def test_manifest_unknown_capability_is_refused_with_its_field(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(_pod({"capabilities": {"add": ["NET_FLY"]}}))
    with pytest.raises(ModelError, match=r"containers\[0\]\.securityContext\.capabilities\.add\[0\]: "
                                         r"'NET_FLY' is not a Linux capability"):
        manifests.load(f)
