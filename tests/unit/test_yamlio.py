"""Reading YAML: libyaml's loader, standard input as `-`, and bytes that are not text."""
import io

import pytest
import yaml

from netlab.errors import ModelError
from netlab.model import manifests, yamlio

SERVICE = b"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"


@pytest.fixture
def stdin(monkeypatch):
    """Standard input holding the given bytes (read once per command, as yamlio caches it)."""
    def feed(data: bytes):
        yamlio._stdin.cache_clear()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    yield feed
    yamlio._stdin.cache_clear()


def test_libyamls_loader_is_used_when_pyyaml_has_it():
    assert yaml.__with_libyaml__, "PyYAML without libyaml: apply of 2,000 documents would be 10x slower"
    assert yamlio._LOADER is yaml.CSafeLoader


def test_the_safe_loader_builds_no_python_objects():
    with pytest.raises(ModelError, match=r"^x: not valid YAML at line 1: could not determine a constructor"):
        yamlio.parse(b"!!python/object/apply:os.system [true]\n", "x")


def test_manifests_from_standard_input_are_named_stdin(stdin):
    stdin(SERVICE + b"---\n" + SERVICE.replace(b"port: 80", b"port: 'eighty'"))
    with pytest.raises(ModelError, match=r"^<stdin>: document 2: spec\.ports\[0\]\.port: 'eighty' must be"):
        manifests.load("-")


def test_standard_input_is_read_once_and_seen_twice(stdin):
    """up -f - looks at the documents (a topology, or manifests?) and then reads them."""
    stdin(SERVICE)
    assert yamlio.read("-", all_documents=True) == yamlio.read("-", all_documents=True) != []
    [m] = manifests.load("-")
    assert (m.kind, m.obj.name, m.where) == ("Service", "web", "<stdin>: document 1")


@pytest.mark.parametrize("junk", [b"\x89PNG\r\n\x1a\n" + bytes(range(256)), b"\x7fELF\x02\x01\x01\x00",
                                  b"kind: Service\x07\n"], ids=["png", "elf", "bell"])
def test_bytes_that_are_not_text_are_one_line(tmp_path, junk):
    f = tmp_path / "blob.yaml"
    f.write_bytes(junk)
    with pytest.raises(ModelError, match=rf"^{f}: not YAML text: byte \d+: ") as e:
        manifests.load(f)
    assert "\n" not in str(e.value)


def test_an_unreadable_file_names_itself(tmp_path):
    with pytest.raises(ModelError, match=rf"^{tmp_path}: cannot read: Is a directory$"):
        yamlio.read(tmp_path)


def test_one_document_is_read_as_it_is_and_several_are_refused_unless_asked_for():
    assert yamlio.parse(b"kind: Service\n", "x") == {"kind": "Service"}
    assert yamlio.parse(b"a: 1\n---\nb: 2\n", "x", all_documents=True) == [{"a": 1}, {"b": 2}]
    with pytest.raises(ModelError, match=r"^x: not valid YAML at line 2: but found another document$"):
        yamlio.parse(b"a: 1\n---\nb: 2\n", "x")


def test_a_syntax_error_names_the_problem_not_the_context():
    """libyaml's message starts with its context ("while parsing a flow sequence"); the problem says more."""
    with pytest.raises(ModelError, match=r"^f: not valid YAML at line 2: did not find expected ',' or '\]'$"):
        yamlio.parse(b"key: [1, 2", "f")


def test_an_error_without_a_position_or_problem_is_its_first_line(monkeypatch):
    """A YAMLError that is not a MarkedYAMLError (a loader of PyYAML's own raising one) has neither."""
    class Refusing(yaml.SafeLoader):
        def __init__(self, stream):
            raise yaml.YAMLError("the loader refused\nsecond line")
    monkeypatch.setattr(yamlio, "_LOADER", Refusing)
    with pytest.raises(ModelError, match=r"^x: not valid YAML: the loader refused$"):
        yamlio.parse(b"a: 1\n", "x")
