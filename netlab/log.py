"""How netlab's components say what they do: `logging`, under "netlab.<component>", each
record carrying the lab's name and the component's. Components never print; the CLI (or
an agent's main) decides where records go; until one does, warnings and errors go to
standard error as the CLI's own messages read (so a command that logs nothing sets
nothing up)."""
from __future__ import annotations

import logging
import sys
from typing import TextIO


def logger(component: str, lab: str = "") -> logging.LoggerAdapter:
    if not any(isinstance(h, _Ours) for h in logging.getLogger("netlab").handlers):
        to_cli()          # (a handler someone else added, a test runner's, does not count)
    return logging.LoggerAdapter(logging.getLogger(f"netlab.{component}"), {"lab": lab, "component": component})


class _Ours(logging.StreamHandler):
    """netlab's own handler (a test runner may add its own beside it)."""


class _Cli(logging.Formatter):
    """As the CLI's own messages read: `netlab: warning: ...`."""

    def format(self, record: logging.LogRecord) -> str:
        return f"netlab: {record.levelname.lower()}: {record.getMessage()}"


def to_cli(stream: TextIO | None = None) -> None:
    """A command's warnings and errors on its standard error; its progress it prints itself."""
    _handle(stream or sys.stderr, logging.WARNING, _Cli())


def to_log(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """An agent's records in its log file (its standard output): time, component, lab, message."""
    _handle(stream or sys.stdout, level, logging.Formatter("%(asctime)s %(component)s %(lab)s %(message)s",
                                                          defaults={"component": "-", "lab": "-"}))


def _handle(stream: TextIO, level: int, formatter: logging.Formatter) -> None:
    root = logging.getLogger("netlab")
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = _Ours(stream)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
