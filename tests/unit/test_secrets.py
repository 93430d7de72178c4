"""Secrets and ConfigMaps as pods see them: netlab.model.secrets (pure)."""
import base64
import re

import pytest

from netlab.errors import NetlabError
from netlab.model import secrets
from netlab.model.objects import Cluster, ConfigMap, EnvFrom, KeyRef, Node, Pod, Secret, Volume
from netlab.model.secrets import MissingRef


def _secret(name, values, namespace="default", type_="Opaque"):
    return Secret(name, namespace, type_, secrets.encode(values))


def _cluster(pod, secrets_=(), config_maps=()):
    return Cluster(nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24")], pods=[pod],
                   secrets=list(secrets_), config_maps=list(config_maps))


def _pod(name="web", namespace="default", **kw):
    return Pod(name, namespace, "node1", "172.30.76.9", **kw)


# ---------------------------------------------------------------- encode / decode / redacted

def test_encode_is_base64_of_bytes_and_of_utf8_text():
    assert secrets.encode({"a": b"\x00\xff", "b": "pässword"}) == {
        "a": base64.b64encode(b"\x00\xff").decode(),
        "b": base64.b64encode("pässword".encode()).decode(),
    }


def test_decode_round_trips_encode():
    s = _secret("s", {"bin": b"\x00\x01\xfe", "text": "hello"})
    assert secrets.decode(s) == {"bin": b"\x00\x01\xfe", "text": b"hello"}


def test_decode_rejects_invalid_base64_naming_the_secret_not_the_value():
    s = Secret("creds", "shop", data={"password": "not base64!!"})
    with pytest.raises(NetlabError, match=r"shop/creds.*base64") as e:
        secrets.decode(s)
    assert "shop/creds" in str(e.value) and "base64" in str(e.value)
    assert "not base64!!" not in str(e.value)


def test_redacted_gives_sizes_never_values():
    s = _secret("s", {"password": "hunter22", "empty": "", "bin": b"\x00" * 5})
    assert secrets.redacted(s) == {"password": 8, "empty": 0, "bin": 5}


# ---------------------------------------------------------------- environment

def test_env_from_then_literals_then_refs_each_overriding_the_previous():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "cfg")],
               env={"MODE": "literal", "ONLY_LITERAL": "x"},
               env_refs={"MODE": KeyRef("Secret", "s", "mode"), "COLOR": KeyRef("ConfigMap", "cfg", "COLOR")})
    c = _cluster(pod, [_secret("s", {"mode": "from-secret"})],
                 [ConfigMap("cfg", "default", {"MODE": "from-envfrom", "COLOR": "blue", "SIZE": "3"})])
    assert secrets.environment(c, pod) == {
        "MODE": "from-secret", "COLOR": "blue", "SIZE": "3", "ONLY_LITERAL": "x"}


def test_literal_env_wins_over_env_from():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "cfg")], env={"MODE": "literal"})
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"MODE": "from-envfrom"})])
    assert secrets.environment(c, pod) == {"MODE": "literal"}


def test_later_env_from_wins_over_earlier():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "first"), EnvFrom("Secret", "second")])
    c = _cluster(pod, [_secret("second", {"X": "2"})], [ConfigMap("first", "default", {"X": "1", "Y": "1"})])
    assert secrets.environment(c, pod) == {"X": "2", "Y": "1"}


def test_env_from_prefix_is_prepended():
    pod = _pod(env_from=[EnvFrom("Secret", "db", prefix="DB_")])
    c = _cluster(pod, [_secret("db", {"USER": "shop", "PASSWORD": "pw"})])
    assert secrets.environment(c, pod) == {"DB_USER": "shop", "DB_PASSWORD": "pw"}


def test_env_from_skips_keys_that_are_not_variable_names():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "cfg")])
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"1st": "no", "ok.name": "yes", "-dash": "yes",
                                                                  "GOOD_1": "yes"})])
    assert secrets.environment(c, pod) == {"ok.name": "yes", "-dash": "yes", "GOOD_1": "yes"}


def test_env_from_prefix_can_make_a_key_a_valid_name():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "cfg", prefix="P_")])
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"1st": "v"})])
    assert secrets.environment(c, pod) == {"P_1st": "v"}


def test_env_from_reads_only_the_pods_namespace():
    pod = _pod(namespace="shop", env_from=[EnvFrom("Secret", "db")])
    c = _cluster(pod, [_secret("db", {"A": "other"}, namespace="default")])
    with pytest.raises(MissingRef, match="^" + re.escape("pod shop/web: envFrom: secret shop/db not found") + "$"):
        secrets.environment(c, pod)


def test_env_from_missing_config_map_names_pod_and_object():
    pod = _pod(env_from=[EnvFrom("ConfigMap", "settings")])
    with pytest.raises(MissingRef, match="^" + re.escape(
            "pod default/web: envFrom: configmap default/settings not found") + "$"):
        secrets.environment(_cluster(pod), pod)


def test_optional_env_from_missing_is_skipped():
    pod = _pod(env_from=[EnvFrom("Secret", "absent", optional=True)], env={"A": "1"})
    assert secrets.environment(_cluster(pod), pod) == {"A": "1"}


def test_env_ref_missing_secret_names_pod_variable_and_secret():
    pod = _pod(env_refs={"DB_PASSWORD": KeyRef("Secret", "mysql", "password")})
    with pytest.raises(MissingRef, match="^" + re.escape(
            "pod default/web: env DB_PASSWORD: secret default/mysql not found") + "$"):
        secrets.environment(_cluster(pod), pod)


def test_env_ref_missing_key_names_the_key():
    pod = _pod(env_refs={"DB_PASSWORD": KeyRef("Secret", "mysql", "password")})
    c = _cluster(pod, [_secret("mysql", {"user": "x"})])
    with pytest.raises(MissingRef, match="^" + re.escape(
            "pod default/web: env DB_PASSWORD: secret default/mysql has no key 'password'") + "$"):
        secrets.environment(c, pod)


def test_env_ref_missing_config_map_key():
    pod = _pod(env_refs={"COLOR": KeyRef("ConfigMap", "cfg", "color")})
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"size": "3"})])
    with pytest.raises(MissingRef, match=r"env COLOR: configmap default/cfg has no key 'color'"):
        secrets.environment(c, pod)


def test_optional_env_refs_missing_object_or_key_are_left_out():
    pod = _pod(env_refs={"A": KeyRef("Secret", "absent", "k", optional=True),
                         "B": KeyRef("ConfigMap", "cfg", "absent", optional=True),
                         "C": KeyRef("ConfigMap", "cfg", "c")})
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"c": "see"})])
    assert secrets.environment(c, pod) == {"C": "see"}


def test_missing_ref_is_a_netlab_error():
    assert issubclass(MissingRef, NetlabError)


@pytest.mark.parametrize("path, value", [
    ("metadata.name", "web"),
    ("metadata.namespace", "shop"),
    ("status.podIP", "172.30.76.9"),
    ("spec.nodeName", "node1"),
    ("status.hostIP", "192.168.0.21"),
])
def test_field_refs(path, value):
    pod = _pod(namespace="shop", env_refs={"V": KeyRef("Field", "", path)})
    assert secrets.environment(_cluster(pod), pod) == {"V": value}


def test_field_ref_host_ip_of_an_unknown_node_is_empty():
    pod = Pod("web", "default", "ghost", "172.30.76.9", env_refs={"V": KeyRef("Field", "", "status.hostIP")})
    assert secrets.environment(_cluster(pod), pod) == {"V": ""}


def test_unsupported_field_ref_is_missing_ref_naming_the_path():
    pod = _pod(env_refs={"V": KeyRef("Field", "", "metadata.uid")})
    with pytest.raises(MissingRef, match=r"pod default/web: fieldRef metadata.uid is not supported"):
        secrets.environment(_cluster(pod), pod)


def test_non_utf8_secret_value_cannot_be_a_variable():
    pod = _pod(env_refs={"KEY": KeyRef("Secret", "bin", "blob")})
    c = _cluster(pod, [_secret("bin", {"blob": b"\xff\xfe\x00"})])
    with pytest.raises(MissingRef,
                       match=r"^secret bin key blob is not text and cannot be an environment variable$") as e:
        secrets.environment(c, pod)
    assert "bin" in str(e.value) and "blob" in str(e.value) and "not text" in str(e.value)


def test_non_utf8_secret_value_through_env_from_is_missing_ref():
    pod = _pod(env_from=[EnvFrom("Secret", "bin")])
    c = _cluster(pod, [_secret("bin", {"blob": b"\xff"})])
    with pytest.raises(MissingRef, match="blob"):
        secrets.environment(c, pod)


def test_env_ref_values_are_decoded_secret_bytes():
    pod = _pod(env_refs={"PW": KeyRef("Secret", "s", "pw")})
    c = _cluster(pod, [_secret("s", {"pw": "päss wörd\n"})])
    assert secrets.environment(c, pod) == {"PW": "päss wörd\n"}


# ---------------------------------------------------------------- volume_files

def test_volume_projects_every_key_when_no_items():
    pod = _pod(volumes=[Volume("creds", "Secret", "db", "/etc/db")])
    c = _cluster(pod, [_secret("db", {"user": "shop", "password": b"\x00pw"})])
    assert secrets.volume_files(c, pod) == {"creds": {"user": b"shop", "password": b"\x00pw"}}


def test_volume_items_map_keys_to_paths_and_leave_other_keys_out():
    pod = _pod(volumes=[Volume("cfg", "ConfigMap", "app", "/etc/app",
                               items={"nginx.conf": "conf/nginx.conf", "motd": "motd.txt"})])
    c = _cluster(pod, config_maps=[ConfigMap("app", "default",
                                             {"nginx.conf": "events {}", "motd": "hi", "other": "x"})])
    assert secrets.volume_files(c, pod) == {"cfg": {"conf/nginx.conf": b"events {}", "motd.txt": b"hi"}}


def test_volume_missing_source_names_pod_volume_and_object():
    pod = _pod(volumes=[Volume("creds", "Secret", "db", "/etc/db")])
    with pytest.raises(MissingRef, match="^" + re.escape(
            "pod default/web: volume creds: secret default/db not found") + "$"):
        secrets.volume_files(_cluster(pod), pod)


def test_volume_missing_item_key_names_the_key():
    pod = _pod(volumes=[Volume("creds", "Secret", "db", "/etc/db", items={"password": "pw"})])
    c = _cluster(pod, [_secret("db", {"user": "shop"})])
    with pytest.raises(MissingRef, match=r"^pod default/web: volume creds: .*db.*'password'") as e:
        secrets.volume_files(c, pod)
    assert "pod default/web: volume creds:" in str(e.value) and "'password'" in str(e.value)
    assert "db" in str(e.value)


def test_optional_volume_missing_source_is_empty():
    pod = _pod(volumes=[Volume("creds", "Secret", "db", "/etc/db", optional=True),
                        Volume("cfg", "ConfigMap", "cfg", "/etc/cfg", items={"a": "a"}, optional=True)])
    assert secrets.volume_files(_cluster(pod), pod) == {"creds": {}, "cfg": {}}


def test_optional_volume_missing_item_key_projects_the_others():
    pod = _pod(volumes=[Volume("cfg", "ConfigMap", "cfg", "/etc/cfg", items={"a": "A", "b": "B"}, optional=True)])
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"b": "bee"})])
    assert secrets.volume_files(c, pod) == {"cfg": {"B": b"bee"}}


def test_volume_reads_only_the_pods_namespace():
    pod = _pod(namespace="shop", volumes=[Volume("cfg", "ConfigMap", "cfg", "/etc/cfg")])
    c = _cluster(pod, config_maps=[ConfigMap("cfg", "default", {"a": "b"})])
    with pytest.raises(MissingRef, match="configmap shop/cfg not found"):
        secrets.volume_files(c, pod)


def test_no_volumes_no_files():
    pod = _pod()
    assert secrets.volume_files(_cluster(pod), pod) == {}


# ---------------------------------------------------------------- uses

def _user():
    return _pod(namespace="shop",
                env_refs={"PW": KeyRef("Secret", "db", "password"), "NAME": KeyRef("Field", "", "metadata.name")},
                env_from=[EnvFrom("ConfigMap", "settings")],
                volumes=[Volume("tls", "Secret", "certs", "/etc/tls")])


@pytest.mark.parametrize("kind, name", [("Secret", "db"), ("ConfigMap", "settings"), ("Secret", "certs")])
def test_uses_env_refs_env_from_and_volumes(kind, name):
    assert secrets.uses(_user(), kind, "shop", name)


@pytest.mark.parametrize("kind, namespace, name", [
    ("Secret", "default", "db"),          # another namespace
    ("ConfigMap", "shop", "db"),          # the right name, the wrong kind
    ("Secret", "shop", "settings"),
    ("Secret", "shop", "other"),
])
def test_uses_not(kind, namespace, name):
    assert not secrets.uses(_user(), kind, namespace, name)
