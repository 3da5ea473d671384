"""The audit viewer (compliance reviewers, administrators): filter, verify the chain, export CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from processes.engine import audit, audit_search
from web.auth import roles_required
from web.context import actor, database
from web.time_words import deployment_zone

bp = Blueprint("audit_log", __name__)
url_prefix = "/admin/audit"
EXPORT_LIMIT = 50_000


def _day(name: str, errors: dict) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def _filter() -> tuple[audit_search.AuditFilter, dict]:
    """The form's filter; the period's days are in the installation's time zone."""
    errors: dict[str, str] = {}
    zone = deployment_zone()
    since, until = _day("since", errors), _day("until", errors)
    if since and until and until < since:
        errors["until"] = _("The end of the period is before its start.")

    def start_of(day: date | None) -> datetime | None:
        return datetime.combine(day, time(), zone).astimezone(UTC) if day else None

    return audit_search.AuditFilter(
        business_key=(request.args.get("reference") or "").strip()[:100],
        actor=(request.args.get("user") or "").strip()[:80],
        action=(request.args.get("action") or "").strip()[:60],
        since=start_of(since), until=start_of(until + timedelta(days=1)) if until else None), errors


@bp.get("/")
@roles_required(*audit_search.READERS)
def index():
    where, errors = _filter()
    verified = None
    with database().session() as s:
        entries = [] if errors else audit_search.search(s, actor(), where)
        if request.args.get("verify"):
            verified = audit.verify(s)
    return render_template("admin/audit.html", entries=entries, errors=errors, verified=verified,
                           args=request.args), (422 if errors else 200)


@bp.get("/export.csv")
@roles_required(*audit_search.READERS)
def export():
    where, errors = _filter()
    if errors:
        return render_template("admin/audit.html", entries=[], errors=errors, verified=None, args=request.args), 422
    with database().session() as s:
        entries = audit_search.search(s, actor(), where, limit=EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "reference", "instance_id", "detail", "hash"])
    for e in entries:
        writer.writerow([e.id, e.at.isoformat(), e.actor, e.action, e.business_key or "", e.instance_id or "",
                         json.dumps(e.detail, ensure_ascii=False, sort_keys=True), e.hash])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",  # the BOM makes Excel read UTF-8
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})
