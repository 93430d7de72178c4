"""`netlab tour`: runs netlab.tour's steps on a live lab, one after the other.

The runner (run) is pure logic over a function that executes a step, so that tests give it
a fake one; execute runs a step for real (netlab's own commands as `python -m netlab.cli`).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

from netlab.errors import NetlabError
from netlab.tour import Step, missing, steps

Execute = Callable[[Step], tuple[int, str]]     # a step -> (exit status, what it printed)
Ask = Callable[[str], str]                      # a prompt -> the line typed (EOFError: no more input)
QUIT = ("q", "quit", "exit")
TIMEOUT = 60.0


@dataclass
class Outcome:
    failed: list[tuple[int, Step, str]] = field(default_factory=list)   # (number, step, why)
    ran: list[int] = field(default_factory=list)
    stopped_after: int | None = None        # the step after which the user quit


def skipped(all_steps: list[Step], skip: list[str]) -> set[int]:
    """--skip's values (step numbers or short names) -> step numbers; an unknown one is refused."""
    by_name = {s.name: i for i, s in enumerate(all_steps, 1)}
    out = set()
    for word in skip:
        if word.isdigit() and 1 <= int(word) <= len(all_steps):
            out.add(int(word))
        elif word in by_name:
            out.add(by_name[word])
        else:
            raise NetlabError(f"tour: --skip {word!r}: no such step (1-{len(all_steps)}, or one of: "
                              f"{', '.join(by_name)})")
    return out


def run(all_steps: list[Step], execute: Execute, out: Callable[[str], None], ask: Ask | None = None,
        skip: set[int] | frozenset[int] = frozenset(), prog: str = "netlab") -> Outcome:
    """Show and run each step; with `ask`, wait for Enter after each one (q quits), else run them all."""
    result = Outcome()
    chapter = None
    total = len(all_steps)
    for number, step in enumerate(all_steps, 1):
        if step.chapter != chapter:
            chapter = step.chapter
            out(f"\n=== {chapter} ===")
        out(f"\n[{number}/{total}] {step.title}" + (f"  ({step.name})" if step.name else ""))
        for line in step.lines():
            out(f"  {line}")
        out(f"$ {step.shown(prog)}")
        if number in skip:
            out("(skipped: --skip)")
            continue
        code, text = execute(step)
        result.ran.append(number)
        if text.strip():
            out(text.rstrip("\n"))
        if code != 0:
            why = f"exit status {code}"
            result.failed.append((number, step, why))
            out(f"!! step {number} ({step.title}) failed: {why}")
        if ask is None or number == total:
            continue
        prompt = ("-- this step failed: Enter goes on, q quits -- " if code != 0
                  else f"-- Enter: step {number + 1}, q: quit -- ")
        try:
            answer = ask(prompt)
        except EOFError:
            out("\n(no more input: the tour stops; --yes runs every step without waiting)")
            answer = "q"
        if answer.strip().lower() in QUIT:
            result.stopped_after = number
            break
    return result


def execute(step: Step, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run a step for real, its output and errors together; a filter (`| grep`) gets the output only."""
    argv = list(step.argv)
    if argv[:1] == ["netlab"]:      # this very netlab, whatever its name on the PATH
        argv = [sys.executable, "-m", "netlab.cli", *argv[1:]]
    try:
        first = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        errors = first.stderr.decode(errors="replace")
        if first.returncode or not step.pipe:
            return first.returncode, first.stdout.decode(errors="replace") + errors
        second = subprocess.run(list(step.pipe), input=first.stdout, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=timeout)
    except FileNotFoundError as e:
        return 127, f"{e.filename}: command not found"
    except subprocess.TimeoutExpired:
        return 124, f"(no answer within {timeout:g}s)"
    text = errors + second.stdout.decode(errors="replace")
    if second.returncode == 1 and not second.stdout.strip():
        text += f"({step.pipe[0]}: no line matched)"
    return second.returncode, text


def choose_lab(given: str | None, running: list[str], cluster_of) -> str:
    """--name, else the seed lab, else the one running lab that has the seed's pieces."""
    if given:
        return given
    if "seed" in running:
        return "seed"
    fits = []
    for name in running:
        try:
            if missing(cluster_of(name)) is None:
                fits.append(name)
        except (NetlabError, OSError, ValueError, KeyError):     # an up in progress, or a crashed lab
            continue
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise NetlabError(f"several seed labs are running ({', '.join(fits)}): netlab tour --name NAME")
    raise NetlabError("no seed lab is running: start one with `netlab up`, then `netlab tour`")


def tour_command(args, say: Callable[[str], None], err: Callable[[str], None]) -> int:
    from netlab import prog
    from netlab.state import LabRecord, labs

    name = choose_lab(args.name, labs(), lambda n: LabRecord(n).cluster())
    lab = LabRecord(name)
    if not lab.dir.exists():
        raise NetlabError(f"lab {name!r} is not running: start it with `netlab up"
                          f"{'' if name == 'seed' else ' --name ' + name}`")
    c = lab.cluster()
    why = missing(c)
    if why:
        raise NetlabError(f"the tour follows the walk-through's seed cluster, and lab {name!r} is not one: {why} "
                          "(netlab up --name NAME starts one)")
    all_steps = steps(c)
    skip = skipped(all_steps, args.skip or [])
    say(f"netlab tour of lab {name!r}: {len(all_steps)} steps in the walk-through's chapters, each a real "
        f"command on the lab" + ("." if args.yes else "; Enter runs the next one, q quits."))
    outcome = run(all_steps, execute, say, ask=None if args.yes else input, skip=skip, prog=prog.name())
    if outcome.failed:
        err(f"netlab: tour: {len(outcome.failed)} step(s) failed: "
            + "; ".join(f"step {n} ({s.title}): {why}" for n, s, why in outcome.failed))
        return 1
    if outcome.stopped_after is not None:
        say(f"\nnetlab: tour stopped after step {outcome.stopped_after} of {len(all_steps)} "
            f"(netlab tour starts it again; --yes runs every step without waiting)")
        return 0
    say(f"\nnetlab: the tour is over: {len(outcome.ran)} steps run"
        + (f", {len(skip)} skipped" if skip else "") + ".")
    return 0
