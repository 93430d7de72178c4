"""A node's ipsets brought to what its policy chains match on (pure planning; the kernel or a
fake applies the text with `ipset restore`).

Sets are made and filled before the rules that name them are written, and destroyed after
the rules that named them are gone (a set in use cannot be destroyed). A set that changes
gets its members added and deleted in place: each change is atomic, and a packet meets the
old members or the new, as kube-proxy's and felix's updates do.
"""
from __future__ import annotations

import json
from pathlib import Path

from netlab.policy.rules import SET_PREFIX, IPSet

OURS = SET_PREFIX


def parse_save(text: str) -> dict[str, IPSet]:
    """netlab's sets in `ipset save` output (felix's name prefix)."""
    out: dict[str, IPSet] = {}
    for line in text.splitlines():
        words = line.split(" ", 2)
        if len(words) < 3 or not words[1].startswith(OURS):
            continue
        if words[0] == "create":
            out[words[1]] = IPSet(words[1], words[2].split()[0], [])
        elif words[0] == "add" and words[1] in out:
            out[words[1]].members.append(words[2])
    return out


def _bare(member: str) -> str:
    return member.removesuffix(" nomatch")


def plan(have: dict[str, IPSet], want: dict[str, IPSet]) -> tuple[str, str]:
    """(restore input before the rules change, restore input after)."""
    before = []
    for name, s in want.items():
        old = have.get(name)
        if old is not None and old.type != s.type:
            raise ValueError(f"ipset {name} is {old.type}, wanted {s.type}")
        if old is None:
            before.append(f"create {name} {s.type} family inet")
            before += [f"add {name} {m}" for m in s.members]
            continue
        now, then = set(old.members), set(s.members)
        before += [f"del {name} {_bare(m)}" for m in sorted(now - then)]
        before += [f"add {name} {m}" for m in s.members if m not in now]
    after = [f"destroy {name}" for name in have if name not in want]
    return _text(before), _text(after)


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def load(path: Path) -> dict[str, IPSet] | None:
    try:
        return {k: IPSet(**v) for k, v in json.loads(path.read_text()).items()}
    except (FileNotFoundError, ValueError, TypeError):
        return None


def store(path: Path, sets: dict[str, IPSet]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: {"name": s.name, "type": s.type, "members": s.members} for k, s in sets.items()}))
    tmp.replace(path)
