"""The current inbox view as a file: CSV (UTF-8 with a BOM, so Excel reads Chinese) or .xlsx.

The columns are those of the page, with the same words (vocabulary, display names, task names in
the interface language); no customer contact data, as on the page. Times are in the deployment's
time zone, named in the header.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook

from web.time_words import countdown, local_time, time_zone_label
from web.workspace_i18n import label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_table(rows: list[dict], now: datetime) -> list[list]:
    zone = time_zone_label()
    header = [
        _("Due (%(zone)s)", zone=zone),
        _("SLA"),
        _("Time left"),
        _("Priority"),
        _("Escalation level"),
        _("Task"),
        _("Complaint"),
        _("Summary"),
        _("Category"),
        _("Severity"),
        _("Channel"),
        _("Department"),
        _("Assignee"),
        _("Arrived (%(zone)s)", zone=zone),
    ]
    body = []
    for row in rows:
        task = row["task"]
        body.append(
            [
                local_time(task.due_at) if task.due_at else "",
                label("sla", row["sla"]) if row["sla"] else "",
                countdown(task.due_at, now),
                task.priority,
                task.escalation_level,
                row["name"],
                task.business_key,
                task.summary or "",
                label("category", task.category),
                label("severity", task.severity),
                label("channel", task.channel),
                label("department", task.department),
                row["assignee"] or "",
                local_time(task.created_at),
            ]
        )
    return [header, *body]


def _safe_cell(value):
    """A cell a spreadsheet will not run: text starting with = + - @ gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_response(rows: list[list], fmt: str, stem: str) -> Response:
    rows = [[_safe_cell(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        csv.writer(buffer).writerows(rows)
        data, mimetype = buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("Inbox"))
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        data, mimetype = buffer.getvalue(), XLSX
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'}
    )
