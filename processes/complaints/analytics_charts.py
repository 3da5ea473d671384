"""Each chart of the analytics dashboard as one table: the page draws it, the API returns it, the
CSV export writes it, so the three cannot disagree. A table is column names and rows of values;
`drill` says, per column, which figure (`analytics.DRILLABLE`) a cell lists the complaints of."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from processes.complaints import analytics
from processes.complaints.analytics import Filters, Period
from processes.complaints.records import ImprovementAction

CHARTS = ("trend", "category", "channel", "sla", "csat", "backlog", "root_causes", "compensation")
DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")


@dataclass
class Table:
    chart: str
    columns: list[str]
    rows: list[list]
    # column -> figure listed when a cell of it is followed
    drill: dict[str, str] = field(default_factory=dict)
    interval: str | None = None

    def as_json(self) -> dict:
        return {"chart": self.chart, "columns": self.columns, "rows": self.rows, "drill": self.drill,
                "interval": self.interval}


def _interval_rows(data: dict, metrics: tuple[str, ...]) -> list[list]:
    return [[start, *(by_value.get("", {}).get(m, 0) for m in metrics)] for start, by_value in data.items()]


def chart(session: Session, name: str, period: Period, filters: Filters, interval: str = "day",
          default_budget: Decimal = Decimal(0)) -> Table:
    if name == "trend":
        metrics = ("received", "closed", "resolved")
        data = analytics.series(session, period, filters, metrics, interval)
        return Table(name, ["period", *metrics], _interval_rows(data, metrics),
                     {m: m for m in metrics}, interval)
    if name in ("category", "channel"):
        data = analytics.series(session, period, filters, ("received",), interval, split=name)
        rows = [[start, value, counts.get("received", 0)]
                for start, by_value in data.items() for value, counts in sorted(by_value.items())
                if counts.get("received")]
        return Table(name, ["period", name, "received"], rows, {"received": "received"}, interval)
    if name == "sla":
        data = analytics.series(session, period, filters, ("within_sla", "breached"), interval)
        rows = []
        for start, by_value in data.items():
            within, breached = (by_value.get("", {}).get(m, 0) for m in ("within_sla", "breached"))
            rows.append([start, within, breached, analytics._rate(within, within + breached)])
        return Table(name, ["period", "within_sla", "breached", "sla_compliance"], rows,
                     {"within_sla": "within_sla", "breached": "breached"}, interval)
    if name == "csat":
        data = analytics.series(session, period, filters, ("survey_answered", "csat_positive"), interval)
        rows = []
        for start, by_value in data.items():
            answered, positive = (by_value.get("", {}).get(m, 0) for m in ("survey_answered", "csat_positive"))
            rows.append([start, answered, positive, analytics._rate(positive, answered)])
        return Table(name, ["period", "survey_answered", "csat_positive", "csat"], rows,
                     {"survey_answered": "survey_answered", "csat_positive": "csat_positive"}, interval)
    if name == "backlog":
        work = analytics.open_work(session, period, filters)
        rows = [[b["band"], b["from_days"], b["to_days"], b["count"]] for b in work["bands"]]
        return Table(name, ["band", "from_days", "to_days", "open"], rows, {"open": "open"})
    if name == "root_causes":
        causes = analytics.root_causes(session, period, filters)
        actions = _actions(session, [c["root_cause"] for c in causes], filters)
        rows = [[c["root_cause"], c["count"], c["cumulative_share"], *actions.get(c["root_cause"], (0, 0))]
                for c in causes]
        return Table(name, ["root_cause", "resolved", "cumulative_share", "actions_open", "actions_done"], rows,
                     {"resolved": "resolved"})
    if name == "compensation":
        rows = [[r["department"], r["month"], r["paid"], r["budget"], r["share"]]
                for r in analytics.compensation_budget(session, period, filters, default_budget, DEPARTMENTS)]
        return Table(name, ["department", "month", "paid", "budget", "share"], rows, {"paid": "paid"})
    raise KeyError(name)


def _actions(session: Session, causes: list[str], filters: Filters) -> dict[str, tuple[int, int]]:
    """Improvement actions (整改) opened against each root cause: still open, and done."""
    if not causes:
        return {}
    query = (select(ImprovementAction.root_cause, ImprovementAction.status, func.count())
             .where(ImprovementAction.root_cause.in_(causes)).group_by(ImprovementAction.root_cause,
                                                                       ImprovementAction.status))
    if filters.product:
        query = query.where(ImprovementAction.product == filters.product)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for cause, status, count in session.execute(query):
        if status == "open":
            found[cause][0] += count
        elif status == "done":
            found[cause][1] += count
    return {k: (v[0], v[1]) for k, v in found.items()}
