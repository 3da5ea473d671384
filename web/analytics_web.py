"""What the dashboard page, its CSV exports and the analytics API share: reading the period and
filters from a query string, and writing a chart's table as CSV. One reading, so the page, the
export and the API answer the same question with the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from flask import Response, url_for

from processes.complaints import analytics_charts
from processes.complaints.analytics import DIMENSIONS, INTERVALS, Filters, Period, with_interval
from processes.engine.errors import N_, ValidationFailed
from web.context import runtime


def read_query(args) -> tuple[Period, Filters, str]:
    """Period (`from`, `to`), filters and `interval` from request arguments; ValidationFailed names
    the field that is wrong."""
    period = Period.parse(args.get("from"), args.get("to"))
    filters = Filters.from_mapping(args)
    interval = args.get("interval") or ("day" if period.days <= 62 else "week" if period.days <= 400 else "month")
    if interval not in INTERVALS:
        raise ValidationFailed({"interval": N_("Choose day, week or month.")}, N_("The period is not valid."))
    return period, filters, interval


def query_args(period: Period, filters: Filters, interval: str | None = None, **extra) -> dict:
    args = {"from": period.start.isoformat(), "to": period.end.isoformat(), **filters.as_args()}
    if interval:
        args["interval"] = interval
    return {**args, **{k: v for k, v in extra.items() if v is not None}}


def default_budget() -> Decimal:
    """The default monthly budget of the settings in force (an approved change included)."""
    with runtime().db.session() as session:
        settings = runtime().settings_in_force(session)[1]
    return Decimal(str(settings.get("default_monthly_budget", 0) or 0))


def chart_table(session, name: str, period: Period, filters: Filters, interval: str):
    return analytics_charts.chart(session, name, period, filters, interval, default_budget())


def drill_url(table, column: str, row: list, period: Period, filters: Filters) -> str | None:
    """Where a table cell (or the chart's bar or point for it) leads: the complaints behind it."""
    metric = table.drill.get(column)
    if metric is None:
        return None
    narrowed, extra = period, {}
    if table.columns[0] == "period" and table.interval:
        narrowed = with_interval(period, row[0], table.interval)
    if table.chart in ("category", "channel"):
        filters = Filters(**{**{d: getattr(filters, d) for d in DIMENSIONS}, table.chart: row[1] or None})
    if table.chart == "backlog":
        extra["band"] = row[0]
    if table.chart == "root_causes":
        extra["root_cause"] = row[0]
    if table.chart == "compensation":
        filters = Filters(**{**{d: getattr(filters, d) for d in DIMENSIONS}, "department": row[0]})
        narrowed = with_interval(period, date.fromisoformat(row[1] + "-01").isoformat(), "month")
    return url_for("dashboard.complaints", metric=metric, **query_args(narrowed, filters), **extra)


def _cell(value):
    """Numbers stay numbers in Excel; amounts are kept as Decimal strings by the tables."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value)) if value and value.replace(".", "", 1).lstrip("-").isdigit() else value
        except ArithmeticError:
            return value
    return value


def xlsx_response(table, filename: str, header: list[str] | None = None, title: str = "") -> Response:
    """The same table as an Excel workbook (openpyxl): one sheet, the header row frozen."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = (title or table.chart)[:31]
    sheet.append(header or table.columns)
    for row in table.rows:
        sheet.append([_cell(v) for v in row])
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def table_response(table, fmt: str, name: str, header: list[str] | None = None) -> Response:
    if fmt == "xlsx":
        return xlsx_response(table, f"{name}.xlsx", header)
    return csv_response(table, f"{name}.csv", header)


def csv_response(table, filename: str, header: list[str] | None = None) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with Chinese text correctly only with the BOM
    writer = csv.writer(out)
    writer.writerow(header or table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
