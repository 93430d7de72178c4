"""The name netlab was called by: `netlab`, or `kube-netlab` where another program (ipSpace's
netlab, PyPI `networklab`) owns that name. Messages and hints use it (pure but for sys.argv)."""
from __future__ import annotations

import os
import re
import sys

NAMES = ("netlab", "kube-netlab")
# `netlab up`, `netlab down --name x`, `netlab: warning: ...`: the command's name in a message
_MENTION = re.compile(r"(?<![\w./-])netlab(?=:| (?:up|down|clean|exec|get|describe|apply|delete|create|scale|"
                      r"logs|node|status|capture)\b| \.\.\.)")


def name(argv0: str | None = None) -> str:
    base = os.path.basename(sys.argv[0] if argv0 is None and sys.argv else argv0 or "")
    return base if base in NAMES else "netlab"


def named(text: str, prog: str | None = None) -> str:
    """`text` with each mention of the netlab command as `prog` (default: the name called by)."""
    prog = prog or name()
    return text if prog == "netlab" else _MENTION.sub(prog, text)
