"""Rules of Ingress, Secret, volumeMounts and env manifests pinned down field by field: the exact
message (file, document, whole field path, reason) of each refusal, each default, each limit."""
import copy

import pytest

from netlab.model import manifests
from netlab.model.objects import EnvFrom, IngressBackend, IngressPath, IngressRule, IngressTLS, KeyRef, Volume

from test_manifest_fields import DELETE, WHERE, _edit, _read, _refused


def _warnings(doc):
    return manifests.parse_document(copy.deepcopy(doc), WHERE).warnings


def _warned(doc, *notes):
    assert _warnings(doc) == [f"{WHERE}: {n}" for n in notes]


_SUBDOMAIN_1123 = ("is not a valid DNS-1123 subdomain (lower case letters, digits, '-' and '.', starting and "
                   "ending alphanumeric)")


# ---- Ingress ------------------------------------------------------------------------------------

INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "shop", "namespace": "web", "labels": {"app": "shop"}},
           "spec": {"ingressClassName": "nginx",
                    "rules": [{"host": "shop.example.com",
                               "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                   "backend": {"service": {"name": "web",
                                                                           "port": {"number": 80}}}}]}}],
                    "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]}}
_P = "spec.rules[0].http.paths[0]"


def test_the_base_ingress_is_valid():
    ing = _read(INGRESS)
    assert (ing.name, ing.namespace, ing.class_name, ing.labels) == ("shop", "web", "nginx", {"app": "shop"})
    assert ing.rules == [IngressRule("shop.example.com", [IngressPath("/", "Prefix", IngressBackend("web", 80))])]
    assert ing.tls == [IngressTLS(["shop.example.com"], "shop-tls")]
    assert _warnings(INGRESS) == []


def test_an_ingress_names_every_unknown_field_by_its_whole_path():
    doc = copy.deepcopy(INGRESS)
    doc["extra"] = 1
    doc["spec"]["extra"] = 1
    rule = doc["spec"]["rules"][0]
    rule["extra"] = 1
    rule["http"]["extra"] = 1
    rule["http"]["paths"][0]["extra"] = 1
    doc["spec"]["tls"][0]["extra"] = 1
    _warned(doc, *(f"{p} is not implemented by netlab and was ignored" for p in (
        "extra", "spec.extra", "spec.rules[0].extra", "spec.rules[0].http.extra", f"{_P}.extra",
        "spec.tls[0].extra")))


@pytest.mark.parametrize("path, value, message", [
    ("spec", [], "spec: [] must be a dict"),
    ("spec.ingressClassName", 5, "spec.ingressClassName: 5 must be a str"),
    ("spec.ingressClassName", "Nginx", f"spec.ingressClassName: 'Nginx' {_SUBDOMAIN_1123}"),
    ("spec.defaultBackend", "web", "spec.defaultBackend: 'web' must be a dict"),
    ("spec.rules[0].host", 5, "spec.rules[0].host: 5 must be a str"),
    ("spec.rules[0].http", [], "spec.rules[0].http: [] must be a dict"),
    ("spec.rules[0].http", {}, "spec.rules[0].http.paths: required field is missing"),
    ("spec.rules[0].http.paths", [], "spec.rules[0].http.paths: must give at least one path"),
    (f"{_P}.path", 5, f"{_P}.path: 5 must be a str"),
    (f"{_P}.path", DELETE, f"{_P}.path: '' must be an absolute path (start with '/')"),   # Prefix: no default
    (f"{_P}.backend", "web", f"{_P}.backend: 'web' must be a dict"),
    (f"{_P}.backend", DELETE, f"{_P}.backend: required field is missing"),
    ("spec.tls[0].hosts", "shop.example.com", "spec.tls[0].hosts: 'shop.example.com' must be a list"),
    ("spec.tls[0].secretName", 5, "spec.tls[0].secretName: 5 must be a str"),
    ("spec.tls[0].secretName", "Shop-TLS", f"spec.tls[0].secretName: 'Shop-TLS' {_SUBDOMAIN_1123}"),
    ("metadata.labels", [], "metadata.labels: [] must be a dict"),
])
def test_ingress_fields_refused(path, value, message):
    _refused(_edit(INGRESS, path, value), message)


def test_an_ingress_without_a_spec_is_refused_as_one_without_rules():
    _refused(_edit(INGRESS, "spec", DELETE), "spec: either defaultBackend or rules must be given")


def test_an_ingress_tls_entry_defaults_to_no_hosts_and_no_secret():
    ing = _read(_edit(INGRESS, "spec.tls", [{}]))
    assert ing.tls == [IngressTLS([], "")]


# ---- Secret -------------------------------------------------------------------------------------

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"app": "db"}},
          "data": {"k": "YQ=="}}


def test_a_secret_without_a_type_or_with_an_empty_one_is_opaque():
    assert _read(SECRET).type == "Opaque"
    assert _read(_edit(SECRET, "type", "")).type == "Opaque"


@pytest.mark.parametrize("path, value, message", [
    ("type", 5, "type: 5 must be a str"),
    ("metadata.labels", [], "metadata.labels: [] must be a dict"),
])
def test_secret_fields_refused(path, value, message):
    _refused(_edit(SECRET, path, value), message)


def test_base64_data_may_be_broken_by_crlf_line_breaks():
    s = _read(_edit(SECRET, "data", {"k": "YWJj\r\nZGVm\r\n", "l": "YWJj\nZGVm"}))
    assert s.data == {"k": "YWJjZGVm", "l": "YWJjZGVm"}            # b"abcdef", re-encoded on one line


def test_empty_and_null_string_data_are_empty_values():
    s = _read(_edit(SECRET, "stringData", {"empty": "", "null": None}))
    assert s.data == {"k": "YQ==", "empty": "", "null": ""}


@pytest.mark.parametrize("data", [{"username": "dQ=="}, {"password": "cA=="}, {"username": "dQ==", "password": "cA=="}])
def test_a_basic_auth_secret_needs_a_username_or_a_password(data):
    doc = _edit(_edit(SECRET, "type", "kubernetes.io/basic-auth"), "data", data)
    assert (_read(doc).type, set(_read(doc).data)) == ("kubernetes.io/basic-auth", set(data))


def test_a_basic_auth_secret_with_neither_key_is_refused():
    _refused(_edit(SECRET, "type", "kubernetes.io/basic-auth"),
             "data: a kubernetes.io/basic-auth Secret needs the key username or password")


# ---- volumeMounts -------------------------------------------------------------------------------

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"volumes": [{"name": "s", "secret": {"secretName": "db"}}, {"name": "cache", "emptyDir": {}}],
                "containers": [{"name": "c", "volumeMounts": [{"name": "s", "mountPath": "/etc/db"}]},
                               {"name": "side", "volumeMounts": [{"name": "s", "mountPath": "/a"},
                                                                 {"name": "s", "mountPath": "/b"}]}]}}
_M = "spec.containers[0].volumeMounts[0]"


def test_the_base_pod_mounts_its_secret():
    assert _read(POD).volumes == [Volume("s", "Secret", "db", "/etc/db")]


@pytest.mark.parametrize("path, value, message", [
    (f"{_M}.subPathExpr", "$(POD)", f"{_M}.subPathExpr: not supported by netlab (mount the whole volume)"),
    (f"{_M}.name", DELETE, f"{_M}.name: required field is missing"),
    (f"{_M}.mountPath", DELETE, f"{_M}.mountPath: required field is missing"),
    (f"{_M}.readOnly", "yes", f"{_M}.readOnly: 'yes' must be a bool"),
    # every mount of a later container is checked too, not only its first
    ("spec.containers[1].volumeMounts[1].mountPath", "b",
     "spec.containers[1].volumeMounts[1].mountPath: 'b' must be an absolute path"),
    ("spec.containers[1].volumeMounts[1].mountPath", "/a",
     "spec.containers[1].volumeMounts[1].mountPath: '/a' is already used by spec.containers[1].volumeMounts[0]"),
])
def test_volume_mount_fields_refused(path, value, message):
    _refused(_edit(POD, path, value), message)


def test_read_only_mounts_are_taken():
    assert _read(_edit(POD, f"{_M}.readOnly", True)).volumes == [Volume("s", "Secret", "db", "/etc/db")]


def test_a_mount_of_an_ignored_volume_does_not_hide_the_mounts_after_it():
    doc = _edit(POD, "spec.containers[0].volumeMounts",
                [{"name": "cache", "mountPath": "/cache"}, {"name": "s", "mountPath": "/etc/db"}])
    assert _read(doc).volumes == [Volume("s", "Secret", "db", "/etc/db")]
    assert f"{WHERE}: {_M} mounts volume 'cache' (emptyDir), which netlab does not implement; it was ignored" \
        in _warnings(doc)


# ---- env and envFrom ----------------------------------------------------------------------------

ENV_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "x"}],
                                    "envFrom": [{"secretRef": {"name": "s"}}]}]}}
_E = "spec.containers[0].env[0]"
_F = "spec.containers[0].envFrom[0]"


def test_env_and_env_from_name_every_unknown_field_by_its_whole_path():
    doc = copy.deepcopy(ENV_POD)
    c = doc["spec"]["containers"][0]
    c["env"][0]["extra"] = 1
    c["envFrom"][0]["extra"] = 1
    c["envFrom"][0]["secretRef"]["extra"] = 1
    _warned(doc, *(f"{p} is not implemented by netlab and was ignored"
                   for p in (f"{_E}.extra", f"{_F}.extra", f"{_F}.secretRef.extra")))


@pytest.mark.parametrize("path, value, message", [
    (f"{_E}.name", DELETE, f"{_E}.name: required field is missing"),
    (f"{_E}.valueFrom", "x", f"{_E}.valueFrom: 'x' must be a dict"),
    (f"{_E}.value", [1], f"{_E}.value: [1] must be a str or int or float"),
    (f"{_F}.secretRef", "s", f"{_F}.secretRef: 's' must be a dict"),
    (f"{_F}.secretRef", None, f"{_F}.secretRef: required field is missing"),
    (f"{_F}.secretRef.name", "S", f"{_F}.secretRef.name: 'S' {_SUBDOMAIN_1123}"),
    (f"{_F}.secretRef.optional", "yes", f"{_F}.secretRef.optional: 'yes' must be a bool"),
    (f"{_F}.prefix", 5, f"{_F}.prefix: 5 must be a str"),
    (f"{_F}.prefix", "1X_", f"{_F}.prefix: '1X_' is not a valid environment variable name (letters, digits, '_', "
                            "'-' and '.', not starting with a digit)"),
])
def test_env_fields_refused(path, value, message):
    _refused(_edit(ENV_POD, path, value), message)


def test_an_env_variable_without_a_value_is_empty():
    assert _read(_edit(ENV_POD, f"{_E}.value", DELETE)).env == {"A": ""}


def test_an_empty_value_may_be_given_with_value_from():
    doc = _edit(ENV_POD, f"spec.containers[0].env",
                [{"name": "A", "value": "", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
    spec = _read(doc)
    assert (spec.env, spec.env_refs) == ({}, {"A": KeyRef("Field", "", "spec.nodeName")})


def test_env_from_keeps_its_prefix_and_optional():
    spec = _read(_edit(_edit(ENV_POD, f"{_F}.prefix", "DB_"), f"{_F}.secretRef.optional", True))
    assert spec.env_from == [EnvFrom("Secret", "s", "DB_", True)]
