"""Management's overview: KPIs over a chosen period and filter with the previous period beside
them, the charts with their tables and CSV exports, and the list of complaints behind each figure.

The figures come from processes/complaints/analytics.py (rollups, see docs/analytics.md); open
tasks per department read ix_human_open_department.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from processes.complaints import analytics
from processes.complaints.analytics_charts import CHARTS, DEPARTMENTS, Table
from processes.complaints.registration import CATEGORIES, CHANNELS, SEVERITIES, TIERS
from processes.engine.errors import ValidationFailed
from processes.engine.models import HumanTask
from web.analytics_web import chart_table, drill_url, query_args, read_query, table_response
from web.auth import roles_required
from web.context import actor, database
from web.workspace_i18n import label

bp = Blueprint("dashboard", __name__)
url_prefix = "/dashboard"
VIEWERS = analytics.VIEWERS

# (key, label, kind, figure a click lists); kind: count, rate, minutes, money, level
TILES = (
    ("received", _l("Complaints received"), "count", "received"),
    ("closed", _l("Complaints closed"), "count", "closed"),
    ("open", _l("Open at the end"), "count", "open"),
    ("resolution_rate", _l("Resolution rate"), "rate", "closed_resolved"),
    ("ack_minutes_median", _l("Time to acknowledge, median"), "minutes", "acknowledged"),
    ("ack_minutes_p90", _l("Time to acknowledge, p90"), "minutes", "acknowledged"),
    ("resolve_minutes_median", _l("Time to resolve, median"), "minutes", "resolved"),
    ("resolve_minutes_p90", _l("Time to resolve, p90"), "minutes", "resolved"),
    ("resolve_business_minutes_median", _l("Time to resolve in working time, median"), "minutes", "resolved"),
    ("resolve_business_minutes_p90", _l("Time to resolve in working time, p90"), "minutes", "resolved"),
    ("sla_compliance", _l("SLA compliance"), "rate", "within_sla"),
    ("breached", _l("Resolved after the limit"), "count", "breached"),
    ("at_risk", _l("Open and at risk of breaching"), "count", "at_risk"),
    ("breached_open", _l("Open, past the limit"), "count", "breached_open"),
    ("first_contact_rate", _l("First-contact resolution"), "rate", "first_contact"),
    ("reopen_rate", _l("Reopen rate"), "rate", "reopened"),
    ("escalation_rate", _l("Escalation rate"), "rate", "escalated"),
    ("max_escalation_level", _l("Highest escalation level"), "level", "escalated"),
    ("csat", _l("CSAT (4 or 5 of 5)"), "rate", "csat_positive"),
    ("survey_response_rate", _l("Survey response rate"), "rate", "survey_answered"),
    ("compensation_paid", _l("Compensation paid"), "money", "paid"),
    ("cost_per_complaint", _l("Cost per closed complaint"), "money", "closed"),
)
CHART_TITLES = {
    "trend": _l("Received, resolved and closed"), "category": _l("Received by category"),
    "channel": _l("Received by channel"), "sla": _l("SLA compliance over time"), "csat": _l("CSAT trend"),
    "backlog": _l("Open complaints by age"), "root_causes": _l("Root causes (Pareto)"),
    "compensation": _l("Compensation paid against budget"),
}
COLUMNS = {
    "period": _l("Period"), "received": _l("Complaints received"), "closed": _l("Complaints closed"),
    "resolved": _l("Complaints resolved"),
    "category": _l("Category"), "channel": _l("Channel"), "within_sla": _l("Within the limit"),
    "breached": _l("After the limit"), "sla_compliance": _l("SLA compliance"), "survey_answered": _l("Answers"),
    "csat_positive": _l("Score 4 or 5"), "csat": _l("CSAT"), "band": _l("Age band"), "from_days": _l("From (days)"),
    "to_days": _l("To (days)"), "open": _l("Open"), "root_cause": _l("Root cause"),
    "cumulative_share": _l("Cumulative share"), "actions_open": _l("Improvement actions open"),
    "actions_done": _l("Improvement actions done"), "department": _l("Department"), "month": _l("Month"),
    "paid": _l("Paid"), "budget": _l("Budget"), "share": _l("Share of budget"),
}
METRIC_TITLES = {
    "received": _l("Complaints received"), "acknowledged": _l("Acknowledged"), "resolved": _l("Complaints resolved"),
    "within_sla": _l("Resolved within the limit"), "breached": _l("Resolved after the limit"),
    "first_contact": _l("Resolved at first contact"), "reopened": _l("Reopened"), "paid": _l("Compensation paid"),
    "closed": _l("Complaints closed"), "closed_resolved": _l("Closed as resolved"), "escalated": _l("Escalated"),
    "survey_sent": _l("Survey sent"), "survey_answered": _l("Survey answered"), "csat_positive": _l("Score 4 or 5"),
    "open": _l("Open at the end"), "at_risk": _l("Open and at risk of breaching"),
    "breached_open": _l("Open, past the limit"),
}


def open_work(session, now: datetime) -> list[dict]:
    rows = session.execute(
        select(HumanTask.department, func.count(),
               func.sum(case((HumanTask.assignee.is_(None), 1), else_=0)),
               func.sum(case((HumanTask.due_at < now, 1), else_=0)))
        .where(HumanTask.status == "open").group_by(HumanTask.department)
    ).all()
    found = {dept: {"department": dept, "open": n, "unassigned": int(u or 0), "breached": int(b or 0)}
             for dept, n, u, b in rows}
    return [found.get(d, {"department": d, "open": 0, "unassigned": 0, "breached": 0}) for d in DEPARTMENTS] + [
        v for k, v in found.items() if k not in DEPARTMENTS]


def _choices() -> dict:
    return {"department": DEPARTMENTS, "category": CATEGORIES, "channel": CHANNELS, "severity": SEVERITIES,
            "tier": TIERS, "sla_profile": analytics.SLA_PROFILES}


def _form_errors(exc: ValidationFailed) -> dict[str, str]:
    return {name: _(message) for name, message in exc.errors.items()}


def value_labels(table) -> dict[str, str]:
    """The words of the stored values a chart shows (categories, channels, departments)."""
    if table.chart not in ("category", "channel", "compensation"):
        return {}
    kind = "department" if table.chart == "compensation" else table.chart
    column = 0 if table.chart == "compensation" else 1
    return {row[column]: label(kind, row[column]) for row in table.rows}


def format_value(kind: str, value) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{float(value) * 100:.1f} %"
    if kind == "minutes":
        minutes = int(value)
        if minutes < 120:
            return _("%(n)s min", n=minutes)
        hours, days = round(minutes / 60, 1), round(minutes / 1440, 1)
        if minutes < 48 * 60:
            return _("%(n)s h", n=hours)
        return _("%(n)s days", n=days)
    return str(value)


@bp.get("/")
@roles_required(*VIEWERS)
def overview():
    analytics.require_viewer(actor())
    try:
        period, filters, interval = read_query(request.args)
    except ValidationFailed as exc:
        return render_template("dashboard.html", errors=_form_errors(exc), args=request.args, choices=_choices(),
                               figures=None), 400
    now = datetime.now(UTC)
    with database().session() as s:
        figures = analytics.kpis(s, period, filters)
        charts = []
        for name in CHARTS:
            table = chart_table(s, name, period, filters, interval)
            links = [{col: drill_url(table, col, row, period, filters) for col in table.drill} for row in table.rows]
            charts.append({"name": name, "title": CHART_TITLES[name], "table": table, "links": links,
                           "csv": query_args(period, filters, interval)})
        work = open_work(s, now)
    return render_template("dashboard.html", errors={}, args=request.args, choices=_choices(), figures=figures,
                           tiles=TILES, charts=charts, columns=COLUMNS, work=work, period=period, filters=filters,
                           interval=interval, base_args=query_args(period, filters, interval),
                           format_value=format_value, value_labels=value_labels)


@bp.get("/export/<chart>.csv", defaults={"fmt": "csv"})
@bp.get("/export/<chart>.xlsx", defaults={"fmt": "xlsx"}, endpoint="export_xlsx")
@roles_required(*VIEWERS)
def export(chart: str, fmt: str = "csv"):
    analytics.require_viewer(actor())
    if chart not in (*CHARTS, "kpis"):
        return render_template("error.html", status=404, message=_("No such chart.")), 404
    try:
        period, filters, interval = read_query(request.args)
    except ValidationFailed as exc:
        return render_template("error.html", status=400, message="; ".join(_form_errors(exc).values())), 400
    with database().session() as s:
        if chart == "kpis":
            return table_response(kpi_table(analytics.kpis(s, period, filters)), fmt, "kpis",
                                  [str(_("Figure")), str(_("Key")), str(_("This period")), str(_("Previous period"))])
        table = chart_table(s, chart, period, filters, interval)
    return table_response(table, fmt, chart, [str(COLUMNS.get(c, c)) for c in table.columns])


def kpi_table(figures: dict) -> Table:
    """The tiles as a table: the figure's words, its key, this period and the previous one."""
    return Table("kpis", ["label", "key", "current", "previous"],
                 [[str(label), key, figures["current"].get(key), figures["previous"].get(key)]
                  for key, label, _kind, _metric in TILES])


@bp.get("/complaints")
@roles_required(*VIEWERS)
def complaints():
    """The complaints behind one figure."""
    analytics.require_viewer(actor())
    metric = request.args.get("metric", "received")
    try:
        period, filters, _interval = read_query(request.args)
        band = request.args.get("band")
        page = request.args.get("page", "1")
        if (band is not None and not band.isdigit()) or not page.isdigit() or int(page) < 1:
            raise ValidationFailed({"page": "Enter a positive number."})
        with database().session() as s:
            rows, total = analytics.drill_down(s, metric, period, filters,
                                               band=int(band) if band is not None else None,
                                               root_cause=request.args.get("root_cause"), page=int(page))
    except ValidationFailed as exc:
        return render_template("error.html", status=400, message="; ".join(_form_errors(exc).values())), 400
    back = url_for("dashboard.overview", **query_args(period, filters))
    next_page = url_for("dashboard.complaints", **{**request.args.to_dict(), "page": int(page) + 1})
    return render_template("dashboard_complaints.html", rows=rows, total=total, page=int(page), metric=metric,
                           title=METRIC_TITLES.get(metric, metric), period=period, filters=filters,
                           back=back, next_page=next_page)
