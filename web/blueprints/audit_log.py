"""The audit viewer (compliance reviewers, administrators): filter, verify the chain, export CSV.

The export says what the page says: people by display name (the system and the customer named as
such), actions in words, times in the deployment's time zone named in the header."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from processes.engine import audit, audit_search
from web.auth import roles_required
from web.context import actor, database
from web.inbox_export import export_response
from web.time_words import deployment_zone, local_time, time_zone_label
from web.workspace_i18n import detail_text, label, person

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
    header = ["#", _("Time (%(zone)s)", zone=time_zone_label()), _("Who"), _("Action"), _("Complaint"),
              _("Process instance"), _("Detail"), _("Chain hash")]
    rows = [[e.id, local_time(e.at, seconds=True), person(e.actor), label("audit", e.action), e.business_key or "",
             e.instance_id or "", detail_text(e.detail), e.hash] for e in entries]
    return export_response([header, *rows], "csv", "audit")
