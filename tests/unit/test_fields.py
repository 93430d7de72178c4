"""One way of checking input: the same words for a bad value whichever input it comes from,
and an unknown field refused in netlab's own files but only warned about in manifests."""
from netlab.errors import ModelError
from netlab.model import fields, manifests, topology
from netlab.model.seed import seed_cluster
from netlab.model.validate import validate

NODES = [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}]
SUBDOMAIN = ("'Bad_Name' is not a valid DNS-1123 subdomain (lower case letters, digits, '-' and '.', "
             "starting and ending alphanumeric)")


def _error(fn) -> str:
    """The whole message, compared by each test."""
    try:
        fn()
    except ModelError as e:
        return str(e)
    raise AssertionError("no ModelError raised")


def test_a_bad_name_reads_the_same_in_a_topology_a_manifest_and_a_state():
    def state():
        c = seed_cluster("x", 0.0)
        c.pods[0].name = "Bad_Name"
        validate(c)
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad_Name"}}
    assert _error(lambda: topology.parse({"nodes": NODES, "pods": [{"name": "Bad_Name"}]})) == \
        f"pods[0].name: {SUBDOMAIN}"
    assert _error(lambda: manifests.parse_document(doc, "p.yaml")) == f"p.yaml: metadata.name: {SUBDOMAIN}"
    assert _error(state) == f"pods[0].name: {SUBDOMAIN}"


def test_a_service_and_its_port_are_checked_in_the_same_words():
    c = seed_cluster("x", 0.0)
    c.services[0].name = "1web"
    assert _error(lambda: validate(c)).endswith(f"metadata.name: {fields.service_name('1web')}")
    c.services[0].name, c.services[0].ports[0].name = "web", "Http"
    assert _error(lambda: validate(c)).endswith(f"spec.ports[0].name: {fields.dns1123('Http', label=True)}")
    assert fields.service_name("web") is None and fields.port_name("http") is None
    assert fields.port_name("8080") == ("'8080' is not a valid port name (at most 15 lower case letters, digits and "
                                        "'-', with at least one letter)")


def test_unknown_fields_are_refused_by_a_strict_reader_and_warned_about_otherwise():
    table = {"name": ("name", str, True), "size": ("size", int, False)}
    assert fields.Reader("", {}, strict=True).fields({"name": "a", "size": None}, table, "x") == {"name": "a"}
    assert _error(lambda: fields.Reader("", {}, strict=True).fields({"name": "a", "colour": 1}, table, "x")) == \
        "x.colour: unknown field (known: name, size)"
    assert _error(lambda: fields.Reader("", {}, strict=True).fields({"size": 1}, table, "x")) == \
        "x.name: required field is missing"
    assert _error(lambda: fields.Reader("f.yaml", {}).fields({"name": 1}, table, "x")) == \
        "f.yaml: x.name: 1 must be a str"
    lenient = fields.Reader("f.yaml", {}, reasons={"colour": "netlab has no colours"})
    assert lenient.fields({"name": "a", "colour": 1}, table, "x") == {"name": "a"}
    assert lenient.warnings == ["f.yaml: x.colour is not implemented by netlab and was ignored: "
                                "netlab has no colours"]
    assert lenient.unknown == ["x.colour"]
