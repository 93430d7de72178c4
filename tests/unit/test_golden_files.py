"""One switch rewrites the golden files, and only when it is exactly "1"."""
import re
from pathlib import Path

import pytest

import golden_files


@pytest.mark.parametrize("value", ["0", "", "true", "yes", " 1", "1 ", "11"])
def test_only_exactly_1_rewrites(monkeypatch, tmp_path, value):
    monkeypatch.setenv("NETLAB_UPDATE_GOLDEN", value)
    assert not golden_files.updating()
    path = tmp_path / "g.txt"
    path.write_text("old\n")
    with pytest.raises(AssertionError,
                       match=r"g\.txt is not what the code makes now \(NETLAB_UPDATE_GOLDEN=1 rewrites it\)"):
        golden_files.check(path, "new\n")
    assert path.read_text() == "old\n"


def test_1_rewrites_and_then_the_check_holds(monkeypatch, tmp_path):
    monkeypatch.setenv("NETLAB_UPDATE_GOLDEN", "1")
    path = tmp_path / "sub" / "g.txt"
    golden_files.check(path, "new\n")
    assert path.read_text() == "new\n"


def test_unset_leaves_files_alone(monkeypatch):
    monkeypatch.delenv("NETLAB_UPDATE_GOLDEN", raising=False)
    assert not golden_files.updating()


def test_no_test_reads_a_golden_switch_of_its_own():
    """Every golden test goes through golden_files (no second variable name, no other test of it)."""
    here = Path(__file__).parent
    for path in here.glob("*.py"):
        if path.name in ("golden_files.py", Path(__file__).name):
            continue
        text = path.read_text()
        assert not re.search(r"environ[^\n]*GOLDEN|GOLDEN[^\n]*environ|REGEN_GOLDEN", text), path.name
