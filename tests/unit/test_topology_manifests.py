"""Topology files that reference Kubernetes manifests (`manifests:`), and telling the two apart."""
import os
import re
import textwrap

import pytest

from netlab.errors import ModelError
from netlab.model import topology

TOPO = """\
    nodes:
      - {name: node1, ip: 192.168.0.21, podCIDR: 172.30.76.0/24}
    deployments:
      - {name: web, replicas: 2}
"""

SERVICE = """\
    apiVersion: v1
    kind: Service
    metadata: {name: api, namespace: shop}
    spec:
      selector: {app: api}
      ports: [{port: 80, targetPort: 8080}]
      ipFamilyPolicy: SingleStack
"""

CONFIG_MAP = """\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings, namespace: shop}
    data: {color: blue}
"""

SECRET = """\
    apiVersion: v1
    kind: Secret
    metadata: {name: db, namespace: shop}
    stringData: {password: pw}
"""


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- is_topology

def test_a_topology_file_is_a_topology(tmp_path):
    assert topology.is_topology(_write(tmp_path / "lab.yaml", TOPO))


def test_a_manifest_file_is_not(tmp_path):
    assert not topology.is_topology(_write(tmp_path / "svc.yaml", SERVICE))


def test_a_multi_document_manifest_starting_with_an_empty_document_is_not(tmp_path):
    f = _write(tmp_path / "all.yaml", "---\n" + textwrap.dedent(CONFIG_MAP) + "---\n" + textwrap.dedent(SECRET))
    assert not topology.is_topology(f)


def test_a_directory_is_not(tmp_path):
    _write(tmp_path / "m" / "svc.yaml", SERVICE)
    assert not topology.is_topology(tmp_path / "m")
    assert not topology.is_topology(str(tmp_path / "m"))


def test_kind_without_api_version_is_still_a_topology(tmp_path):
    # a mapping needs both to be a Kubernetes object; a topology has neither (load will name the field)
    assert topology.is_topology(_write(tmp_path / "odd.yaml", "kind: Service\nnodes: []\n"))


def test_is_topology_of_invalid_yaml_is_a_model_error_naming_the_file(tmp_path):
    f = _write(tmp_path / "bad.yaml", "nodes: [\n")
    with pytest.raises(ModelError, match=r"bad\.yaml: not valid YAML"):
        topology.is_topology(f)


# ---------------------------------------------------------------- load with manifests:

def _lab(tmp_path, manifests_line):
    """The topology, with manifests_line; ns.yaml (listed first by the tests) makes namespace shop."""
    _write(tmp_path / "labs" / "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    return _write(tmp_path / "labs" / "lab.yaml", TOPO + f"    manifests: {manifests_line}\n")


def test_manifests_paths_are_relative_to_the_topology_file(tmp_path, monkeypatch):
    _write(tmp_path / "labs" / "k8s" / "svc.yaml", SERVICE)
    _write(tmp_path / "labs" / "more" / "a-config.yaml", CONFIG_MAP)
    _write(tmp_path / "labs" / "more" / "b-secret.yml", SECRET)
    f = _lab(tmp_path, "[ns.yaml, k8s/svc.yaml, more]")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    c = topology.load(f, "mylab", now=5.0)
    assert c.name == "mylab"
    assert [(s.namespace, s.name) for s in c.services] == [("shop", "api")]
    assert [(m.namespace, m.name, m.data) for m in c.config_maps] == [("shop", "settings", {"color": "blue"})]
    assert [(s.namespace, s.name) for s in c.secrets] == [("shop", "db")]
    # the topology's own objects are there too
    assert [d.name for d in c.deployments] == ["web"]
    assert sorted(p.owner for p in c.pods) == ["web", "web"]


def test_manifests_apply_in_order_a_later_one_replacing_an_earlier(tmp_path):
    _write(tmp_path / "labs" / "one.yaml", CONFIG_MAP)
    _write(tmp_path / "labs" / "two.yaml", CONFIG_MAP.replace("blue", "green"))
    c = topology.load(_lab(tmp_path, "[ns.yaml, one.yaml, two.yaml]"))
    assert [m.data for m in c.config_maps] == [{"color": "green"}]


def test_manifest_warnings_go_to_warn(tmp_path):
    svc = _write(tmp_path / "labs" / "svc.yaml", SERVICE)
    seen = []
    topology.load(_lab(tmp_path, "[ns.yaml, svc.yaml]"), warn=seen.append)
    assert seen == [f"{svc}: document 1: spec.ipFamilyPolicy is not implemented by netlab and was ignored"]


def test_without_a_warn_function_warnings_are_dropped(tmp_path):
    _write(tmp_path / "labs" / "svc.yaml", SERVICE)
    c = topology.load(_lab(tmp_path, "[ns.yaml, svc.yaml]"))
    assert [s.name for s in c.services] == ["api"]


def test_no_manifests_key_no_manifest_objects(tmp_path):
    c = topology.load(_write(tmp_path / "lab.yaml", TOPO))
    assert c.services == [] and c.config_maps == [] and c.secrets == []


@pytest.mark.parametrize("value", ["svc.yaml", "{a: b}", "[1]", "[svc.yaml, [x]]"])
def test_a_bad_manifests_value_is_one_line_naming_the_file(tmp_path, value):
    _write(tmp_path / "labs" / "svc.yaml", SERVICE)
    f = _lab(tmp_path, value)
    with pytest.raises(ModelError,
                       match=f"^{re.escape(str(f))}: manifests: .*must be a list of files or directories") as e:
        topology.load(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: manifests: ") and "must be a list of files or directories" in msg
    assert "\n" not in msg


def test_a_missing_manifest_is_named(tmp_path):
    f = _lab(tmp_path, "[ns.yaml, gone.yaml]")
    with pytest.raises(ModelError, match="^" + re.escape(
            f"{tmp_path / 'labs' / 'gone.yaml'}: no such file or directory") + "$"):
        topology.load(f)


def test_an_invalid_manifest_is_one_line_naming_the_manifest_file(tmp_path):
    _write(tmp_path / "labs" / "ok.yaml", CONFIG_MAP)
    bad = _write(tmp_path / "labs" / "bad.yaml", CONFIG_MAP + "---\n" + textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: Not_A_Name}
        """))
    with pytest.raises(ModelError, match=r"document 2: metadata\.name: 'Not_A_Name' is not a valid DNS-1123") as e:
        topology.load(_lab(tmp_path, "[ns.yaml, ok.yaml, bad.yaml]"))
    msg = str(e.value)
    assert msg.startswith(f"{bad}: document 2: metadata.name: 'Not_A_Name' is not a valid DNS-1123")
    assert "\n" not in msg


def test_a_manifest_service_the_cluster_rejects_fails_in_load_naming_a_file(tmp_path):
    _write(tmp_path / "labs" / "svc.yaml", SERVICE.replace("name: api", "name: Not_A_Name"))
    f = _lab(tmp_path, "[ns.yaml, svc.yaml]")
    with pytest.raises(ModelError, match=r"Not_A_Name") as e:
        topology.load(f)
    assert str(e.value).startswith((f"{f}: ", f"{tmp_path / 'labs' / 'svc.yaml'}: "))


def test_invalid_yaml_in_a_manifest_names_the_manifest_and_line(tmp_path):
    bad = _write(tmp_path / "labs" / "bad.yaml", "kind: [\n")
    with pytest.raises(ModelError, match=r"bad\.yaml: not valid YAML at line ") as e:
        topology.load(_lab(tmp_path, "[ns.yaml, bad.yaml]"))
    assert str(e.value).startswith(f"{bad}: not valid YAML at line ") and "\n" not in str(e.value)


def test_an_error_in_the_topology_itself_still_names_the_topology_file(tmp_path):
    _write(tmp_path / "labs" / "svc.yaml", SERVICE)
    f = _write(tmp_path / "labs" / "lab.yaml", TOPO + "    manifests: [svc.yaml]\n    extra: 1\n")
    with pytest.raises(ModelError, match=r"lab\.yaml: extra: unknown field") as e:
        topology.load(f)
    assert str(e.value).startswith(f"{f}: extra: unknown field")
    assert "manifests" in str(e.value)           # the list of known fields includes the new key


def test_manifests_resolve_against_a_relative_topology_path(tmp_path, monkeypatch):
    _write(tmp_path / "labs" / "k8s" / "svc.yaml", SERVICE)
    _lab(tmp_path, "[ns.yaml, k8s/svc.yaml]")
    monkeypatch.chdir(tmp_path)
    c = topology.load(os.path.join("labs", "lab.yaml"))
    assert [s.name for s in c.services] == ["api"]
