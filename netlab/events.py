"""Events: what the lab's components did, as Kubernetes' v1 Events tell it (pod scheduled,
container started, probe failed, replicas scaled), kept in the lab's directory for the API.

The file (events.jsonl) is a log of whole JSON lines, each the latest state of one event;
the last line of an event's name wins. Writers (the netlab command, each node's kubelet)
take events.lock, read the file, aggregate as client-go's recorder does (the same object,
type, reason, message and source again: count + 1, lastTimestamp moves, same name), and
append their lines in one write with O_APPEND; readers (the API server) need no lock and
skip a line still being written. The file is bounded: past KEEP + SLACK lines it is
rewritten with the KEEP latest events; an event expires TTL seconds after it was last
seen, as the API server's --event-ttl (1 h) makes them.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from netlab.log import logger
from netlab.state import LabDir

KEEP = 1000
SLACK = 200                 # lines appended before the file is compacted again
TTL = 3600.0

NORMAL, WARNING = "Normal", "Warning"


@dataclass(frozen=True)
class Event:
    """One happening, before it is aggregated: what, about which object, said by whom."""
    type: str                   # Normal or Warning
    reason: str                 # Scheduled, Started, Unhealthy, ...
    message: str
    kind: str                   # the involved object: Pod, Service, Deployment, ReplicaSet
    namespace: str
    object: str                 # its name (a record's "name" is the event's own)
    component: str              # the source: kubelet, default-scheduler, deployment-controller
    host: str = ""              # the node, for the kubelet's
    field_path: str = ""        # spec.containers{NAME}: the part of the object it is about
    created: float = 0.0        # the involved object's creation time (its uid follows from it)

    def key(self) -> tuple:
        return (self.kind, self.namespace, self.object, self.created, self.field_path, self.type, self.reason,
                self.message, self.component, self.host)


def key_of(record: dict) -> tuple:
    return Event(**{f: record[f] for f in Event.__dataclass_fields__}).key()


def event_name(object_name: str, first: float) -> str:
    """As client-go names them: the object's name, a dot, the first time in nanoseconds, in hex."""
    return f"{object_name}.{int(first * 1e9):x}"


# ---- pure: the log's lines, their aggregation, what is kept --------------------------------------

def parse(text: str) -> list[dict]:
    """The file's records, in order; a line being written (no newline yet, or torn) is skipped."""
    out = []
    for line in text.split("\n")[:-1]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "name" in rec and "seq" in rec:
            out.append(rec)
    return out


def fold(records: Iterable[dict]) -> dict[str, dict]:
    """Each event's latest state, by name (later lines win)."""
    out: dict[str, dict] = {}
    for r in records:
        out.pop(r["name"], None)        # (re-inserted: the dict stays in order of last change)
        out[r["name"]] = r
    return out


def live(events: dict[str, dict], now: float, keep: int | None = None) -> list[dict]:
    """The events the API still serves: seen within TTL, the `keep` (KEEP) last changed."""
    fresh = [r for r in events.values() if now - r["last"] < TTL]
    return sorted(fresh, key=lambda r: r["seq"])[-(keep or KEEP):]


def aggregate(events: dict[str, dict], new: list[Event], now: float, seq: int) -> list[dict]:
    """The lines that record `new` (pure): an event seen before (same key, not expired) counts
    once more, else a new one; `seq` is the last sequence number used. `events` is updated."""
    by_key = {key_of(r): r for r in events.values() if now - r["last"] < TTL}
    lines = []
    for e in new:
        seq += 1
        before = by_key.get(e.key())
        if before is not None:
            rec = {**before, "count": before["count"] + 1, "last": now, "seq": seq}
        else:
            stamp = now
            while (name := event_name(e.object, stamp)) in events:     # (one object's events of one batch)
                stamp = math.nextafter(stamp, math.inf)
            rec = {**asdict(e), "name": name, "first": stamp, "last": stamp, "count": 1, "seq": seq}
        by_key[e.key()] = rec
        events.pop(rec["name"], None)
        events[rec["name"]] = rec
        lines.append(rec)
    return lines


def last_seq(events: dict[str, dict]) -> int:
    return max((r["seq"] for r in events.values()), default=0)


def dumps(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True, separators=(",", ":")).encode() + b"\n" for r in records)


# ---- the file ---------------------------------------------------------------------------------

def path(lab_dir: LabDir) -> Path:
    return lab_dir.path / "events.jsonl"


def read(lab_dir: LabDir) -> list[dict]:
    """Every record of the file, in order ([] if there is none)."""
    try:
        return parse(path(lab_dir).read_text())
    except FileNotFoundError:
        return []


def record(lab_dir: LabDir, new: list[Event], now: float) -> None:
    """Add `new` to the lab's events. Never fails its caller: an event is worth less than the
    change it tells of (a lab being removed meanwhile loses its last ones)."""
    if not new or not lab_dir.exists():
        return
    try:
        _record(lab_dir, new, now)
    except OSError:
        logger("events", lab_dir.name).exception("recording %d events failed", len(new))


def _record(lab_dir: LabDir, new: list[Event], now: float) -> None:
    fd = os.open(lab_dir.path / "events.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        records = read(lab_dir)
        events = fold(records)
        lines = aggregate(events, new, now, last_seq(events))
        if len(records) + len(lines) > KEEP + SLACK:
            _rewrite(path(lab_dir), dumps(live(events, now)))
            return
        out = os.open(path(lab_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(out, dumps(lines))         # one write: readers see whole lines or none
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _rewrite(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, target)
