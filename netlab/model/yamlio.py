"""Reading YAML files with errors as one line naming the file (and line)."""
from __future__ import annotations

from pathlib import Path

import yaml

from netlab.errors import ModelError


def read(path: str | Path, all_documents: bool = False):
    """The document (or the list of documents) of a YAML file."""
    path = Path(path)
    try:
        text = path.read_text()
        return list(yaml.safe_load_all(text)) if all_documents else yaml.safe_load(text)
    except OSError as e:
        raise ModelError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ModelError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
