"""The process heatmap: where complaints wait in the process, and for how long.

For the human tasks of the complaint process created in a period (and the complaints' filters),
per BPMN element and per lane: how many times it was reached, how many are still waiting, the
median and p90 of the wait (created → completed, or → now while open) and the element's share of
all the waiting. Bottlenecks are the (up to three) elements with the largest share, at least a tenth each; outliers are the tasks that
waited far longer than their peers at the same element; paths count how often one task
followed another in the same complaint. The page colours the diagram with it.
Reads `ix_human_process_created` (a period's tasks), never the whole task table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_models import ComplaintFact
from processes.engine.models import HumanTask, utcnow

PROCESS_KEY = "complaint_handling"
# Filters the task row carries itself; the others are read from the complaint's fact row.
_ON_TASK = ("department", "category", "channel", "severity")
BOTTLENECKS = 3
BOTTLENECK_SHARE = 0.1  # a bottleneck holds at least a tenth of all the waiting
# A task is an outlier when it waited this many times its element's median (and at least a day).
OUTLIER_FACTOR = 3
OUTLIER_MIN_MINUTES = 24 * 60
MAX_OUTLIERS = 20
MAX_PATHS = 15
MAX_TASKS = 200_000  # a period larger than this is refused rather than read row by row


def _nearest_rank(values: list[int], p: float) -> int | None:
    if not values:
        return None
    return values[max(math.ceil(p * len(values)), 1) - 1]


def _summary(waits: list[int], open_count: int, total_wait: int) -> dict:
    waits.sort()
    return {"count": len(waits), "open": open_count, "done": len(waits) - open_count,
            "median_minutes": _nearest_rank(waits, 0.5), "p90_minutes": _nearest_rank(waits, 0.9),
            "wait_minutes": sum(waits),
            "share": round(sum(waits) / total_wait, 4) if total_wait else None}


def heatmap(session: Session, period: Period, filters: Filters, now: datetime | None = None) -> dict:
    """Counts, median and p90 waiting per element and per lane, bottlenecks and outliers."""
    now = now or utcnow()
    lo, hi = period.bounds()
    t = HumanTask
    query = (select(t.bpmn_id, t.name, t.lane, t.business_key, t.created_at, t.completed_at, t.status)
             .where(t.process_key == PROCESS_KEY, t.created_at >= lo, t.created_at < hi, t.status != "cancelled"))
    fact_filters = [(d, v) for d, v in filters.active() if d not in _ON_TASK]
    query = query.where(*(getattr(t, d) == v for d, v in filters.active() if d in _ON_TASK))
    if fact_filters:
        f = ComplaintFact
        query = query.join(f, f.reference == t.business_key).where(*(getattr(f, d) == v for d, v in fact_filters))
    rows = session.execute(query.limit(MAX_TASKS + 1)).all()
    truncated = len(rows) > MAX_TASKS
    per_element: dict[str, list] = defaultdict(list)
    per_lane: dict[str, list] = defaultdict(list)
    open_element: dict[str, int] = defaultdict(int)
    open_lane: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    waited = []
    by_complaint: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for bpmn_id, name, lane, key, created, completed, status in rows[:MAX_TASKS]:
        by_complaint[key].append((created, bpmn_id))
        end = completed if completed is not None else now
        minutes = max(int((end - created).total_seconds() // 60), 0)
        names.setdefault(bpmn_id, name)
        per_element[bpmn_id].append(minutes)
        per_lane[lane or ""].append(minutes)
        if completed is None and status == "open":
            open_element[bpmn_id] += 1
            open_lane[lane or ""] += 1
        waited.append((bpmn_id, key, minutes, completed is None))
    total = sum(m for _b, _k, m, _o in waited)
    elements = []
    for bpmn_id, waits in per_element.items():
        elements.append({"element": bpmn_id, "name": names[bpmn_id],
                         **_summary(list(waits), open_element[bpmn_id], total)})
    elements.sort(key=lambda e: (-e["wait_minutes"], e["element"]))
    lanes = sorted(({"lane": lane, **_summary(list(w), open_lane[lane], total)} for lane, w in per_lane.items()),
                   key=lambda e: (-e["wait_minutes"], e["lane"]))
    medians = {e["element"]: e["median_minutes"] or 0 for e in elements}
    outliers = sorted(
        ({"element": b, "name": names[b], "reference": k, "wait_minutes": m, "open": o,
          "times_median": round(m / medians[b], 1) if medians[b] else None}
         for b, k, m, o in waited
         if m >= OUTLIER_MIN_MINUTES and m >= OUTLIER_FACTOR * max(medians[b], 1)),
        key=lambda x: (-x["wait_minutes"], x["reference"]))[:MAX_OUTLIERS]
    bottlenecks = [e["element"] for e in elements if (e["share"] or 0) >= BOTTLENECK_SHARE][:BOTTLENECKS]
    for e in elements:
        e["bottleneck"] = e["element"] in bottlenecks
    # How often each path between two tasks was taken: one complaint's next task after this one.
    steps: dict[tuple[str, str], int] = defaultdict(int)
    for tasks in by_complaint.values():
        tasks.sort()
        for (_a, before), (_b, after) in zip(tasks, tasks[1:], strict=False):
            steps[(before, after)] += 1
    paths = [{"from": a, "to": b, "from_name": names[a], "to_name": names[b], "count": n}
             for (a, b), n in sorted(steps.items(), key=lambda x: (-x[1], x[0]))[:MAX_PATHS]]
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "filters": filters.as_args(),
            "tasks": len(waited), "wait_minutes": total, "truncated": truncated, "elements": elements,
            "lanes": lanes, "bottlenecks": bottlenecks, "outliers": outliers,
            "paths": paths}
