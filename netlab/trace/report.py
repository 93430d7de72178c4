"""A trace as the user reads it: numbered steps (text), a stable JSON document (schema.json
beside this file), or one self-contained HTML page with the path drawn over the lab."""
from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

from netlab.trace.tracer import Trace

SCHEMA = Path(__file__).with_name("schema.json")
VERSION = 1


def as_dict(t: Trace) -> dict:
    return {
        "version": VERSION,
        "from": dataclasses.asdict(t.source),
        "to": dataclasses.asdict(t.destination),
        "result": t.result,
        "died": None if t.died is None else {"hop": t.died + 1, "reason": t.reason},
        "seconds": round(t.seconds, 3),
        "path": list(t.path),
        "marks": list(t.marks),
        "hops": [{"n": i + 1, "where": h.where, "what": h.what, "ok": h.ok,
                  "evidence": [{"kind": e.kind, "text": e.text, "data": e.data} for e in h.evidence]}
                 for i, h in enumerate(t.hops)],
    }


def as_json(t: Trace) -> str:
    return json.dumps(as_dict(t), indent=2, sort_keys=True)


def text(t: Trace) -> str:
    lines = [f"trace {t.source.label} -> {t.destination.label} ({t.destination.protocol}"
             + (f"/{t.destination.port}" if t.destination.port else "") + ")"]
    for i, h in enumerate(t.hops, 1):
        mark = "" if h.ok else "   <-- the request died here"
        lines.append(f"{i:2}. [{h.where}] {h.what}{mark}")
        for e in h.evidence:
            lines.append(f"      {e.text}")
    end = f"died at step {t.died + 1}: {t.reason}" if t.died is not None else t.result
    lines.append(f"result: {end} ({t.seconds:.2f}s)")
    return "\n".join(lines)


_STYLE = """
body{font-family:sans-serif;margin:1.5em;max-width:1200px}
h1{font-size:1.3em} .died{color:#b00020;font-weight:bold}
details{margin:.4em 0;padding:.3em .6em;border-left:4px solid #2a7ae2;background:#f6f8fa}
details.bad{border-left-color:#b00020} summary{cursor:pointer}
pre{white-space:pre-wrap;font-size:.85em;margin:.3em 0} #graph svg{max-width:100%;height:auto}
"""


def page(t: Trace, svg: str = "") -> str:
    """One HTML file, nothing fetched: the lab's picture with the path in red, each hop's evidence
    in an expandable block (the failing one open)."""
    d = as_dict(t)
    end = (f'<p class="died">died at step {t.died + 1}: {html.escape(t.reason)}</p>' if t.died is not None
           else f"<p>result: {html.escape(t.result)} in {t.seconds:.2f}s</p>")
    hops = []
    for h in d["hops"]:
        items = "".join(f"<pre>{html.escape(e['text'])}</pre>" for e in h["evidence"])
        cls = "" if h["ok"] else ' class="bad" open'
        hops.append(f'<details{cls} id="hop-{h["n"]}"><summary>{h["n"]}. [{html.escape(h["where"])}] '
                    f'{html.escape(h["what"])}</summary>{items}</details>')
    title = html.escape(f"netlab trace {t.source.label} -> {t.destination.label}")
    data = html.escape(json.dumps(d, sort_keys=True))
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{title}</h1>{end}"
            f'<div id="graph">{svg}</div><h2>Hops</h2>{"".join(hops)}'
            f'<script type="application/json" id="trace">{data}</script></body></html>\n')
