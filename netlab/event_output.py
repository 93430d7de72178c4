"""The lab's events as netlab get events and netlab describe pod print them, the way
kubectl does (pure; the cells are those the lab's API serves)."""
from __future__ import annotations

from netlab import output
from netlab.api.event_items import COLUMNS, cells
from netlab.model.objects import Pod


def rows(records: list[dict], all_ns: bool, wide: bool, now: float) -> str:
    """kubectl get events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE (-o wide: all ten columns)."""
    shown = [i for i, (_, priority) in enumerate(COLUMNS) if wide or priority == 0]
    headers = [COLUMNS[i][0].upper() for i in shown]
    table = [[str(cells(r, now)[i]) for i in shown] for r in records]
    if all_ns:
        return output.table(["NAMESPACE", *headers], [[r["namespace"] or "default", *row]
                                                      for r, row in zip(records, table)])
    return output.table(headers, table)


def of_pod(records: list[dict], p: Pod) -> list[dict]:
    """The pod's own events (kubectl describe selects them by uid: this pod, not an older one of its name)."""
    return [r for r in records if (r["kind"], r["namespace"], r["object"], r["created"]) ==
            ("Pod", p.namespace, p.name, p.created)]


def describe(records: list[dict], now: float) -> list[str]:
    """kubectl describe's Events section (of events there are): Type, Reason, Age, From, Message,
    oldest first."""
    def age(r: dict) -> str:
        last = output.age(r["last"], now)
        return f"{last} (x{r['count']} over {output.age(r['first'], now)})" if r["count"] > 1 else last
    table = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"]]
    table += [[r["type"], r["reason"], age(r), r["component"], r["message"].strip()]
              for r in sorted(records, key=lambda r: (r["first"], r["seq"]))]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return ["Events:"] + ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4]
                          for row in table]
