"""Management's analytics beyond the overview: the process heatmap, KPI targets, the regulatory
return and the monthly archive review (定期回顾). Each page reads or writes through its domain
module in processes/complaints (analytics_heatmap, analytics_targets, analytics_returns,
analytics_review); this module reads the request and renders."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from processes.complaints import analytics, analytics_returns, analytics_review, analytics_targets
from processes.complaints.analytics import Period
from processes.complaints.analytics_charts import DEPARTMENTS, Table
from processes.complaints.analytics_heatmap import PROCESS_KEY
from processes.complaints.analytics_heatmap import heatmap as heatmap_figures
from processes.complaints.analytics_models import KpiTarget
from processes.complaints.analytics_rollup import calendar
from processes.engine.errors import N_, Conflict, ValidationFailed
from processes.engine.models import ProcessDefinition, User, utcnow
from web.analytics_web import query_args, read_query, table_response
from web.auth import roles_required
from web.blueprints.complaints import main_diagram
from web.context import actor, database, runtime
from web.errors import problem_message
from web.workspace_i18n import element_name

bp = Blueprint("insight", __name__)
url_prefix = "/dashboard"

KPI_LABELS = {
    "sla_compliance": _l("SLA compliance"), "csat": _l("CSAT (4 or 5 of 5)"), "resolution_rate": _l("Resolution rate"),
    "first_contact_rate": _l("First-contact resolution"), "survey_response_rate": _l("Survey response rate"),
    "reopen_rate": _l("Reopen rate"), "escalation_rate": _l("Escalation rate"),
    "resolve_minutes_median": _l("Time to resolve, median"), "resolve_minutes_p90": _l("Time to resolve, p90"),
    "ack_minutes_p90": _l("Time to acknowledge, p90"), "breached_open": _l("Open, past the limit"),
    "at_risk": _l("Open and at risk of breaching"),
}
RETURN_COLUMNS = {
    "product": _l("Product or service"), "category": _l("Category"), "received": _l("Complaints received"),
    "closed": _l("Complaints closed"), "closed_within_limit": _l("Closed within the time limit"),
    "upheld": _l("Upheld"), "open_at_end": _l("Open at the end"), "compensation_paid": _l("Compensation paid"),
}
REASONS = {"sample": _l("Sample of the department"), "reopened": _l("Reopened"),
           "level_4": _l("Escalated to level 4"), "compensation": _l("Compensation above the threshold")}


def _errors(exc: ValidationFailed) -> dict[str, str]:
    return {name: _(message) for name, message in exc.errors.items()}


# -- process heatmap -------------------------------------------------------------------------


def _latest_diagram(session) -> str | None:
    definition = session.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == PROCESS_KEY)
                                 .order_by(ProcessDefinition.version.desc()).limit(1)).first()
    return main_diagram(definition.files, PROCESS_KEY) if definition else None


@bp.get("/heatmap")
@roles_required(*analytics.VIEWERS)
def heatmap():
    analytics.require_viewer(actor())
    try:
        period, filters, interval = read_query(request.args)
    except ValidationFailed as exc:
        return render_template("dashboard_heatmap.html", errors=_errors(exc), args=request.args, figures=None,
                               choices=_choices()), 400
    with database().session() as s:
        figures = heatmap_figures(s, period, filters)
        for row in (*figures["elements"], *figures["outliers"]):  # the task's name in the page's language
            row["name"] = element_name(s, row["element"], row["name"])
        for row in figures["paths"]:
            row["from_name"] = element_name(s, row["from"], row["from_name"])
            row["to_name"] = element_name(s, row["to"], row["to_name"])
    return render_template("dashboard_heatmap.html", errors={}, args=request.args, figures=figures, period=period,
                           interval=interval, choices=_choices(),
                           data_url=url_for("insight.heatmap_data", **query_args(period, filters)),
                           base_args=query_args(period, filters, interval), format_minutes=_minutes)


@bp.get("/heatmap.json")
@roles_required(*analytics.VIEWERS)
def heatmap_data():
    """The diagram and its figures for the page's script."""
    analytics.require_viewer(actor())
    period, filters, _interval = read_query(request.args)
    with database().session() as s:
        return jsonify({"xml": _latest_diagram(s), **heatmap_figures(s, period, filters)})


def _minutes(value) -> str:
    from web.blueprints.dashboard import format_value

    return format_value("minutes", value)


def _choices() -> dict:
    from web.blueprints.dashboard import _choices as choices

    return choices()


# -- KPI targets --------------------------------------------------------------------------------


def _targets_page(errors=None, form=None, status=200):
    with database().session() as s:
        targets = s.scalars(select(KpiTarget).where(KpiTarget.active.is_(True)).order_by(KpiTarget.id)).all()
        owners = s.scalars(select(User.username).where(User.active.is_(True),
                                                       User.role.in_(("manager", "supervisor", "admin")))
                           .order_by(User.username)).all()
    return render_template("dashboard_targets.html", targets=targets, owners=owners, kpis=analytics_targets.KPIS,
                           kpi_labels=KPI_LABELS, departments=DEPARTMENTS, errors=errors or {}, form=form or {},
                           can_set=actor().role in analytics_targets.SETTERS, show=_show_target), status


def _show_target(target: KpiTarget, value) -> str:
    if value is None:
        return "—"
    kind = analytics_targets.KPIS.get(target.kpi, ("count",))[0]
    if kind == "rate":
        return f"{float(value) * 100:.1f} %"
    if kind == "minutes":
        return _("%(n)s min", n=int(value))
    return str(int(value))


@bp.get("/targets")
@roles_required(*analytics.VIEWERS)
def targets():
    analytics.require_viewer(actor())
    return _targets_page()


@bp.post("/targets")
@roles_required(*analytics_targets.SETTERS)
def add_target():
    try:
        fields = analytics_targets.parse(request.form, DEPARTMENTS)
        with database().write_session.begin() as s:
            analytics_targets.create(s, actor(), fields)
    except ValidationFailed as exc:
        return _targets_page(_errors(exc), request.form, 400)
    return redirect(url_for("insight.targets"))


@bp.post("/targets/<int:target_id>/remove")
@roles_required(*analytics_targets.SETTERS)
def remove_target(target_id: int):
    with database().write_session.begin() as s:
        analytics_targets.deactivate(s, actor(), target_id)
    return redirect(url_for("insight.targets"))


@bp.post("/targets/check")
@roles_required(*analytics_targets.SETTERS)
def check_targets():
    """Check now what the worker checks every hour."""
    from processes.channels import kpi_alerts

    analytics_targets.require_setter(actor())
    kpi_alerts.check_targets(database(), mail_status="pending" if runtime_smtp() else "outbox")
    return redirect(url_for("insight.targets"))


def runtime_smtp() -> bool:
    """Whether the customer mailer has an SMTP server: staff mail then goes out too."""
    return any(getattr(o, "smtp", None) for o in runtime().observers)


# -- regulatory return ------------------------------------------------------------------------------


def _return_period(args) -> tuple[Period, str]:
    kind = args.get("kind") or "monthly"
    if kind not in analytics_returns.KINDS:
        raise ValidationFailed({"kind": N_("Choose monthly or half-yearly.")}, N_("The period is not valid."))
    if args.get("from") or args.get("to"):
        return Period.parse(args.get("from"), args.get("to")), kind
    today = calendar().localize(utcnow()).date()
    first = today.replace(day=1)
    if kind == "monthly":
        end = first.fromordinal(first.toordinal() - 1)
        return Period(end.replace(day=1), end), kind
    half = first.replace(month=1 if first.month <= 6 else 7)
    end = half.fromordinal(half.toordinal() - 1)
    return Period(end.replace(month=1 if end.month <= 6 else 7, day=1), end), kind


@bp.get("/returns")
@roles_required(*analytics.VIEWERS)
def returns():
    analytics.require_viewer(actor())
    try:
        period, kind = _return_period(request.args)
    except ValidationFailed as exc:
        return render_template("dashboard_returns.html", errors=_errors(exc), rows=None, args=request.args), 400
    with database().session() as s:
        rows = analytics_returns.figures(s, period)
    return render_template("dashboard_returns.html", errors={}, rows=rows, period=period, kind=kind,
                           args=request.args, columns=analytics_returns.COLUMNS, labels=RETURN_COLUMNS,
                           checksum=analytics_returns.checksum(period, rows),
                           export_args={"from": period.start.isoformat(), "to": period.end.isoformat(), "kind": kind})


@bp.get("/returns/export.<fmt>")
@roles_required(*analytics.VIEWERS)
def export_return(fmt: str):
    analytics.require_viewer(actor())
    if fmt not in ("csv", "xlsx"):
        return render_template("error.html", status=404, message=_("No such chart.")), 404
    try:
        period, kind = _return_period(request.args)
    except ValidationFailed as exc:
        return render_template("error.html", status=400, message="; ".join(_errors(exc).values())), 400
    with database().write_session.begin() as s:
        rows = analytics_returns.figures(s, period)
        analytics_returns.record_export(s, actor(), period, kind, rows, fmt)
    table = Table("return", list(analytics_returns.COLUMNS), [[_("Total") if i == len(rows) - 1 and not r[0] else r[0],
                                                               *r[1:]] for i, r in enumerate(rows)])
    name = f"complaints-return-{period.start}-{period.end}"
    return table_response(table, fmt, name, [str(RETURN_COLUMNS[c]) for c in analytics_returns.COLUMNS])


# -- archive review ---------------------------------------------------------------------------------


def _threshold() -> Decimal:
    return Decimal(str(runtime().settings.get("review_compensation_threshold", analytics_review.DEFAULT_THRESHOLD)))


def _review_page(cycle: str, errors=None, form=None, status=200):
    with database().session() as s:
        items = analytics_review.review_list(s, cycle, _threshold())
    return render_template("dashboard_review.html", cycle=cycle, items=items, reasons=REASONS, errors=errors or {},
                           form=form or {}, done=sum(1 for i in items if i["review"])), status


@bp.get("/review")
@roles_required(*analytics_review.REVIEWERS)
def review():
    analytics_review.require_reviewer(actor())
    today = calendar().localize(utcnow()).date()
    try:
        cycle = analytics_review.parse_cycle(request.args.get("cycle"), today)
    except ValidationFailed as exc:
        return render_template("error.html", status=400, message="; ".join(_errors(exc).values())), 400
    return _review_page(cycle)


@bp.post("/review/<cycle>/<reference>")
@roles_required(*analytics_review.REVIEWERS)
def review_note(cycle: str, reference: str):
    today = calendar().localize(utcnow()).date()
    try:
        cycle = analytics_review.parse_cycle(cycle, today)
        with database().write_session.begin() as s:
            analytics_review.record(s, actor(), cycle, reference, request.form.get("verdict", ""),
                                    request.form.get("note", ""), _threshold())
    except ValidationFailed as exc:
        return _review_page(cycle, {reference: _errors(exc)}, {reference: request.form}, 400)
    except Conflict as exc:
        return _review_page(cycle, {reference: {"note": problem_message(exc)}}, {reference: request.form}, 409)
    return redirect(url_for("insight.review", cycle=cycle) + f"#review-{reference}")
