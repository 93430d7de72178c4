"""Golden files of the unit tests (tests/unit/golden/): one switch rewrites them all.

    NETLAB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit

rewrites every golden file from what the code produces now (read the diff before committing).
Only the exact value "1" does: "0", "true", "yes" or an empty value leave the files alone.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "NETLAB_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(ENV) == "1"


def check(path: Path, text: str) -> None:
    """text must be path's content; with NETLAB_UPDATE_GOLDEN=1 it becomes that first."""
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} is not what the code makes now (NETLAB_UPDATE_GOLDEN=1 rewrites it)"
