"""Reachability matrices as Kubernetes' e2e network policy tests print them (pure: no kernel).

A matrix has one row per source pod and one column per target, labelled
`namespace/pod` (or an outside host's name as a target): `.` connected, `X` blocked,
`?` no value. Text form, as e2e's TruthTable.PrettyPrint, one section per probe:

    TCP/80
    -	x/a	x/b
    x/a	.	X
    x/b	.	.

`parse` reads it back (the `netlab probe --expect FILE` format); `compare` sets an
expectation against what was observed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from netlab.errors import ModelError

PROTOCOLS = ("TCP", "UDP", "SCTP")
MARKS = {".": True, "X": False}
NO_VALUE = "?"
_SECTION = re.compile(r"^([A-Za-z]+)/(\d+)$")


@dataclass
class Matrix:
    protocol: str            # TCP | UDP | SCTP
    port: int
    froms: list[str]         # row labels: "namespace/pod"
    tos: list[str]           # column labels: "namespace/pod", or an outside host's name (e.g. "client")
    allowed: dict[tuple[str, str], bool]   # (from, to) -> connected


def probe_name(m: Matrix) -> str:
    return f"{m.protocol}/{m.port}"


def _mark(m: Matrix, src: str, dst: str) -> str:
    value = m.allowed.get((src, dst))
    return NO_VALUE if value is None else "." if value else "X"


def pretty(m: Matrix, title: str | None = None) -> str:
    """The probe's name (or `title`) on a line, then the matrix, TAB separated."""
    lines = [title or probe_name(m), "\t".join(["-", *m.tos])]
    lines += ["\t".join([src, *(_mark(m, src, dst) for dst in m.tos)]) for src in m.froms]
    return "\n".join(lines)


def parse(text: str, where: str) -> list[Matrix]:
    """Matrices in pretty's format: sections headed by PROTO/PORT lines, or one matrix
    with no such line, returned with protocol "" and port 0 (it applies to every probe).
    Cells are separated by tabs or runs of spaces; blank lines and `#` lines are skipped.
    Bad input raises ModelError naming `where`, the line and what is wrong."""
    found: list[Matrix] = []
    current: Matrix | None = None
    headless = False

    def fail(n: int, why: str):
        raise ModelError(f"{where}:{n}: {why}")

    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        section = _SECTION.match(words[0]) if len(words) == 1 else None
        # a lone `ns/123` inside a matrix is a row without cells, not a section
        if section and (section.group(1).upper() in PROTOCOLS or current is None):
            proto, port = section.group(1).upper(), int(section.group(2))
            if proto not in PROTOCOLS:
                fail(n, f"unknown protocol {section.group(1)!r} (TCP, UDP or SCTP)")
            if not 1 <= port <= 65535:
                fail(n, f"port {port} is not between 1 and 65535")
            if headless:
                fail(n, f"{proto}/{port}: a matrix without a PROTO/PORT line must be the file's only one")
            if any((m.protocol, m.port) == (proto, port) for m in found):
                fail(n, f"{proto}/{port} appears twice")
            _check_rows(current, n, fail)
            current = Matrix(proto, port, [], [], {})
            found.append(current)
        elif words[0] == "-":
            if current is None:
                headless = True
                current = Matrix("", 0, [], [], {})
                found.append(current)
            elif current.tos:
                fail(n, "a second header line (-) in one matrix; start a new one with a PROTO/PORT line")
            if len(words) == 1:
                fail(n, "the header (-) names no columns")
            for label in words[1:]:
                if label in current.tos:
                    fail(n, f"duplicate column label {label!r}")
                current.tos.append(label)
        elif current is None or not current.tos:
            fail(n, f"expected a PROTO/PORT line or a header line starting with '-', not {words[0]!r}")
        else:
            src, marks = words[0], words[1:]
            if src in current.froms:
                fail(n, f"duplicate row label {src!r}")
            if len(marks) != len(current.tos):
                fail(n, f"row {src!r} has {len(marks)} cells, the header {len(current.tos)}")
            for dst, mark in zip(current.tos, marks):
                if mark not in MARKS and mark != NO_VALUE:
                    fail(n, f"row {src!r}, column {dst!r}: unknown mark {mark!r} (. connected, X blocked, ? no value)")
                if mark in MARKS:
                    current.allowed[(src, dst)] = MARKS[mark]
            current.froms.append(src)
    _check_rows(current, len(text.splitlines()) + 1, fail)
    if not found:
        raise ModelError(f"{where}: no matrix in it")
    return found


def _check_rows(m: Matrix | None, n: int, fail) -> None:
    if m is not None and not m.froms:
        fail(n, f"{probe_name(m) if m.protocol else 'the matrix'} has no rows")


def compare(expected: Matrix, observed: Matrix) -> Matrix:
    """A matrix of the observed probe whose cells are True where expected and observed agree.
    Both must have the same labels and a value in every cell (ModelError naming the label)."""
    what = probe_name(observed)
    for kind, exp, obs in (("row", expected.froms, observed.froms), ("column", expected.tos, observed.tos)):
        for label in exp:
            if label not in obs:
                raise ModelError(f"{what}: expected {kind} {label!r} was not probed")
        for label in obs:
            if label not in exp:
                raise ModelError(f"{what}: probed {kind} {label!r} is not in the expectation")
    agree = {}
    for src in observed.froms:
        for dst in observed.tos:
            for name, m in (("expected", expected), ("observed", observed)):
                if (src, dst) not in m.allowed:
                    raise ModelError(f"{what}: {src} -> {dst}: no {name} value")
            agree[(src, dst)] = expected.allowed[(src, dst)] == observed.allowed[(src, dst)]
    return Matrix(observed.protocol, observed.port, list(observed.froms), list(observed.tos), agree)


def summary(comparison: Matrix) -> str:
    """e2e's line: reachability TCP/80: correct:N, incorrect:M, result=true|false."""
    correct = sum(comparison.allowed.values())
    incorrect = len(comparison.allowed) - correct
    return (f"reachability {probe_name(comparison)}: correct:{correct}, incorrect:{incorrect}, "
            f"result={'true' if incorrect == 0 else 'false'}")


def differences(expected: Matrix, observed: Matrix) -> list[str]:
    """One line per cell where they differ: `x/b -> x/a: expected X, observed .`."""
    comparison = compare(expected, observed)
    return [f"{src} -> {dst}: expected {_mark(expected, src, dst)}, observed {_mark(observed, src, dst)}"
            for src in observed.froms for dst in observed.tos if not comparison.allowed[(src, dst)]]
