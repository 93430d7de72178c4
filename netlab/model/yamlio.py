"""Reading YAML files, or standard input as `-`, with errors as one line naming the source
(and line)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import yaml

from netlab.errors import ModelError

STDIN = "-"
# libyaml's loader where PyYAML was built with it: about ten times faster on 2,000 documents
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def is_stdin(path: str | Path) -> bool:
    return str(path) == STDIN


def name(path: str | Path) -> str:
    """How messages name a source."""
    return "<stdin>" if is_stdin(path) else str(path)


@functools.cache
def _stdin() -> bytes:
    """Standard input, read once: a command may look at it twice (is it a topology?)."""
    return sys.stdin.buffer.read()


def data(path: str | Path) -> bytes:
    if is_stdin(path):
        return _stdin()
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read: {e.strerror}") from None


def read(path: str | Path, all_documents: bool = False):
    """The document (or the list of documents) of a YAML file, or of standard input as `-`."""
    return parse(data(path), name(path), all_documents)


def parse(text: bytes | str, where: str, all_documents: bool = False):
    try:
        if all_documents:
            return list(yaml.load_all(text, Loader=_LOADER))
        return yaml.load(text, Loader=_LOADER)
    except yaml.reader.ReaderError as e:          # bytes that are not text: binary data, a wrong file
        raise ModelError(f"{where}: not YAML text: byte {e.position}: {e.reason}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ModelError(f"{where}: not valid YAML{at}: {problem}") from None
