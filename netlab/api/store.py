"""The lab's objects as the API server keeps them: each with the resourceVersion at which it
last changed, and the events (ADDED, MODIFIED, DELETED) a watch sends.

resourceVersions are the lab record's own change counter (state.json's "revision": every
write of the record counts one). The store follows the record by polling the file's identity
every POLL seconds (an atomic rename makes a new inode), and reads it again every REREAD
seconds anyway, for what changes outside it: a pod's namespace gone, its containers' status file.
It follows the lab's events file (netlab.events) the same way: an event's line counts one
more, so a resourceVersion is the record's revision plus the events' last sequence number.
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from netlab import events as lab_events
from netlab.api import event_items
from netlab.api.objects import Item, build
from netlab.state import LabRecord

POLL = 0.02
REREAD = 1.0
HISTORY = 10_000            # events kept for watches that resume from a resourceVersion


@dataclass
class Event:
    rv: int
    resource: str
    type: str               # ADDED MODIFIED DELETED
    old: dict | None        # the object before (None when ADDED)
    new: dict | None        # after (None when DELETED)
    item: Item              # the latest item (its Table cells)
    seq: int = 0            # its place among every event the store recorded


class Store:
    def __init__(self, lab: LabRecord, builder: Callable[[LabRecord, dict], dict[str, list[Item]]] = build):
        self.lab, self.builder = lab, builder
        self.cond = threading.Condition()
        self.items: dict[str, dict[tuple[str, str], Item]] = {}
        self._digests: dict[tuple[str, tuple[str, str]], str] = {}
        self.history: collections.deque[Event] = collections.deque()
        self.revision = 0
        self.seq = 0
        self.floor = 0          # a watch from before this resourceVersion cannot be resumed
        self._seen: tuple | None = None
        self._events_seen: tuple | None = None
        self._built: dict[str, list[Item]] = {}         # the record's objects, as last built
        self._record_revision = 0
        self.refreshed = 0.0
        self.stopped = False

    # ---- reading the record ----------------------------------------------------------------
    def _identity(self, path=None) -> tuple | None:
        try:
            st = os.stat(path or self.lab.dir.state_file)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def refresh(self, force: bool = False) -> bool:
        """Read the record (and the events) again if it changed (or `force`); True if any object changed."""
        seen, events_seen = self._identity(), self._identity(lab_events.path(self.lab.dir))
        if seen is None or (seen == self._seen and events_seen == self._events_seen and not force):
            return False
        if seen != self._seen or force:
            try:
                state = json.loads(self.lab.dir.state_file.read_text())
            except (OSError, ValueError):
                return False            # (replaced as we read it: the next poll sees the new one)
            self._built = self.builder(self.lab, state)
            self._record_revision = int(state.get("revision", 0))
        self._seen, self._events_seen = seen, events_seen
        self.refreshed = time.monotonic()
        records = lab_events.fold(lab_events.read(self.lab.dir))
        # apply() stamps the objects it is given: the record's are kept as built, for the next events
        built = {r: [dataclasses.replace(i, obj=copy.deepcopy(i.obj)) for i in items]
                 for r, items in self._built.items()}
        built["events"] = event_items.items(self.lab.name, lab_events.live(records, time.time()), self._built)
        revision = max(self._record_revision + lab_events.last_seq(records), self.revision)
        return self.apply(revision, built)

    def apply(self, revision: int, built: dict[str, list[Item]]) -> bool:
        """The objects as they are at `revision`: what changed becomes events (pure but for the lock)."""
        events: list[Event] = []
        first = not self.items
        new_items: dict[str, dict[tuple[str, str], Item]] = {}
        for resource, items in built.items():
            old = self.items.get(resource, {})
            now_items = {}
            for item in items:
                digest = json.dumps(item.obj, sort_keys=True)
                dkey = (resource, item.key)
                before = old.get(item.key)
                if before is not None and self._digests.get(dkey) == digest:
                    item.obj = before.obj           # unchanged: keeps its resourceVersion
                else:
                    item.obj["metadata"]["resourceVersion"] = str(revision)
                    self._digests[dkey] = digest
                    if not first:
                        events.append(Event(revision, resource, "MODIFIED" if before else "ADDED",
                                            before.obj if before else None, item.obj, item))
                now_items[item.key] = item
            for key, before in old.items():
                if key not in now_items:
                    self._digests.pop((resource, key), None)
                    gone = copy.deepcopy(before.obj)
                    gone["metadata"]["resourceVersion"] = str(revision)
                    events.append(Event(revision, resource, "DELETED", before.obj, gone, before))
            new_items[resource] = now_items
        with self.cond:
            self.items = new_items
            if first:
                self.floor = revision
            self.revision = revision
            for e in events:
                self.seq += 1
                e.seq = self.seq
            self.history.extend(events)
            while len(self.history) > HISTORY:
                self.floor = self.history.popleft().rv
            self.cond.notify_all()
        return bool(events)

    def follow(self, until: Callable[[], bool] = lambda: False) -> None:
        """Keep the store in step with the record till `until()` or stop()."""
        while not self.stopped and not until():
            self.refresh(force=time.monotonic() - self.refreshed >= REREAD)
            time.sleep(POLL)

    def stop(self) -> None:
        self.stopped = True
        with self.cond:
            self.cond.notify_all()

    # ---- what requests read -----------------------------------------------------------------
    def snapshot(self, resource: str) -> tuple[int, list[Item], int]:
        """(resourceVersion, the kind's items, the last event's sequence number), at one moment."""
        with self.cond:
            return self.revision, list(self.items.get(resource, {}).values()), self.seq

    def resume(self, rv: int) -> tuple[list[Event], int] | None:
        """The events after resourceVersion `rv` and the last one's sequence number; None if
        they are no longer all known (410 Expired: the watch must list again)."""
        with self.cond:
            if rv < self.floor:
                return None
            return [e for e in self.history if e.rv > rv], self.seq

    def wait(self, after: int, timeout: float) -> tuple[list[Event], int]:
        """Events recorded after sequence number `after`, waiting up to `timeout` for one; the last seen."""
        with self.cond:
            if self.seq <= after and not self.stopped:
                self.cond.wait(timeout)
            return [e for e in self.history if e.seq > after], self.seq

    def position(self) -> int:
        with self.cond:
            return self.seq
