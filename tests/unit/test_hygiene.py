"""Rules the test suite keeps (docs/testing.md), checked on its own source."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _raises_without_match(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "raises"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "pytest"
            and not any(k.arg == "match" for k in n.keywords)]


def test_every_pytest_raises_names_the_message_it_expects():
    """pytest.raises(X) alone passes for any X, whatever the reason: each names its message."""
    found = {str(p.relative_to(TESTS)): lines for p in sorted(TESTS.rglob("*.py"))
             if (lines := _raises_without_match(p))}
    assert found == {}


def test_the_check_finds_a_bare_raises(tmp_path):
    f = tmp_path / "t.py"
    f.write_text("import pytest\nwith pytest.raises(ValueError):\n    pass\n"
                 "with pytest.raises(ValueError, match='x'):\n    pass\n")
    assert _raises_without_match(f) == [2]
