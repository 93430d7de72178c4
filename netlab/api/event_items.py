"""The lab's events (netlab.events) as the API serves them: v1 Events with the cells of
`kubectl get events` (pure)."""
from __future__ import annotations

import uuid
from functools import partial

from netlab import output
from netlab.api.objects import Item, uid

# the kinds events are about -> (the resource serving them, their apiVersion)
KINDS = {"Pod": ("pods", "v1"), "Service": ("services", "v1"), "Node": ("nodes", "v1"),
         "Deployment": ("deployments", "apps/v1"), "ReplicaSet": ("replicasets", "apps/v1")}

# the Table's columns: kubectl get events shows those of priority 0, -o wide all
COLUMNS = [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
           ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]


def involved_uid(lab: str, rec: dict, served: dict[str, list[Item]]) -> str:
    """The uid the API serves for the event's object (kubectl describe selects events by it);
    for one no longer served (or never: ReplicaSets), the uid it had."""
    resource = KINDS.get(rec["kind"], (rec["kind"].lower() + "s", ""))[0]
    for item in served.get(resource, []):
        if item.key == (rec["namespace"] if rec["kind"] != "Node" else "", rec["object"]):
            return item.obj["metadata"]["uid"]
    if rec["kind"] == "ReplicaSet":         # as netlab.api.objects makes pods' ownerReferences
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{lab}/replicasets/{rec['namespace']}/{rec['object']}"))
    meta = {"namespace": rec["namespace"], "name": rec["object"],
            **({"creationTimestamp": output.timestamp(rec["created"])} if rec.get("created") else {})}
    return uid(lab, resource, {"metadata": meta})


def event_object(lab: str, rec: dict, involved: str) -> dict:
    """A v1 Event, as client-go's recorder writes it."""
    namespace = rec["namespace"] or "default"           # (a Node's go to default, as the kubelet's do)
    obj = {"kind": rec["kind"], "namespace": rec["namespace"], "name": rec["object"], "uid": involved,
           "apiVersion": KINDS.get(rec["kind"], ("", "v1"))[1]}
    if not rec["namespace"]:
        del obj["namespace"]
    if rec.get("field_path"):
        obj["fieldPath"] = rec["field_path"]
    source = {"component": rec["component"], **({"host": rec["host"]} if rec.get("host") else {})}
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": rec["name"], "namespace": namespace,
                         "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{lab}/events/{namespace}/{rec['name']}")),
                         "creationTimestamp": output.timestamp(rec["first"])},
            "involvedObject": obj, "reason": rec["reason"], "message": rec["message"], "source": source,
            "firstTimestamp": output.timestamp(rec["first"]), "lastTimestamp": output.timestamp(rec["last"]),
            "count": rec["count"], "type": rec["type"], "eventTime": None,
            "reportingComponent": rec["component"], "reportingInstance": rec.get("host", "")}


def cells(rec: dict, now: float) -> list:
    """kubectl's row of an event: LAST SEEN, TYPE, REASON, OBJECT, SUBOBJECT, SOURCE, MESSAGE,
    FIRST SEEN, COUNT, NAME (the API server sends them all; kubectl hides the wide ones)."""
    source = ", ".join(x for x in (rec["component"], rec.get("host", "")) if x)
    return [output.age(rec["last"], now), rec["type"], rec["reason"], f"{rec['kind'].lower()}/{rec['object']}",
            rec.get("field_path", ""), source, rec["message"].strip(), output.age(rec["first"], now), rec["count"],
            rec["name"]]


def items(lab: str, records: list[dict], served: dict[str, list[Item]]) -> list[Item]:
    """The events' items (the records live now, see netlab.events.live)."""
    out = []
    for rec in records:
        obj = event_object(lab, rec, involved_uid(lab, rec, served))
        out.append(Item((obj["metadata"]["namespace"], rec["name"]), obj, partial(cells, rec)))
    return out
