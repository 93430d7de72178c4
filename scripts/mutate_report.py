"""The summary of mutmut's results in mutants/ (run from scripts/mutate.sh's work directory):
per module total / killed / survived / no tests (no unit test runs the function) / timeout / other,\nand each surviving mutant by name. killed% counts timeouts as killed.

    python scripts/mutate_report.py [module...]     (netlab/dns/records.py, netlab/model, ...)
    python scripts/mutate_report.py --unkilled [module...]    the names of the mutants not killed
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 37}                 # a test failed (3: pytest's internal error), or the type check
TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = {0}


def status(code) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in TIMEOUT:
        return "timeout"
    return {None: "not checked", 5: "no tests", 33: "no tests", 34: "skipped"}.get(code, "suspicious")


def main(args: list[str]) -> int:
    names_only = "--unkilled" in args          # print the names of the mutants not killed, nothing else
    args = [a for a in args if a != "--unkilled"]
    wanted = [a.rstrip("/").removesuffix(".py") for a in args]
    rows, survivors, total = [], [], Counter()
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        module = str(meta.relative_to("mutants")).removesuffix(".py.meta")
        if wanted and not any(module == w or module.startswith(w + "/") for w in wanted):
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if names_only:
            for n, c in sorted(codes.items()):
                if status(c) not in ("killed", "timeout"):
                    print(n)
            continue
        if not codes:
            continue
        count = Counter(status(c) for c in codes.values())
        rows.append((module, len(codes), count))
        total.update(count)
        total["total"] += len(codes)
        survivors += [name for name, c in sorted(codes.items()) if status(c) in ("survived", "no tests")]
    if names_only:
        return 0
    cols = ["killed", "survived", "no tests", "timeout"]
    print(f"{'module':34} {'total':>6} " + " ".join(f"{c:>8}" for c in cols) + "    other   killed%")
    for module, n, count in rows + [("all", total["total"], total)]:
        other = n - sum(count[c] for c in cols)
        pct = 100 * (count["killed"] + count["timeout"]) / n if n else 0
        print(f"{module:34} {n:6} " + " ".join(f"{count[c]:8}" for c in cols) + f" {other:8} {pct:8.1f}")
    if survivors:
        print("\nsurvivors and mutants no unit test reaches (show one: cd .mutate && ../.venv/bin/mutmut show NAME):")
        print("\n".join(f"  {s}" for s in survivors))
    others = total["total"] - sum(total[c] for c in cols)
    if others:
        print(f"\n{others} mutants neither killed, survived, unreached nor timed out (not checked, suspicious)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
