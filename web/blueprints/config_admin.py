"""Reviewed configuration in the browser: the process settings (and, registered the same way, the
business calendar and the e-mail templates). An author proposes new values with a note; a
compliance reviewer who is not the author sees each changed value old beside new and approves or
rejects. The rules live in processes/governance/config_review.py; a view reads the form, calls
it and shows its message next to the field it is about."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from processes.complaints.registration import CHANNELS
from processes.complaints.settings import KINDS as SETTING_KINDS
from processes.complaints.settings import REQUIRABLE_FIELDS
from processes.complaints.sla import profile_names
from processes.engine.errors import RuntimeProblem
from processes.engine.models import utcnow
from processes.governance import config_review
from web.auth import roles_required
from web.config_labels import FIELD_LABELS, PROFILE_LABELS, SETTING_HELP, SETTING_LABELS
from web.context import actor, database
from web.errors import problem_message

bp = Blueprint("config_admin", __name__)
url_prefix = "/admin"
VIEWERS = ("process_designer", "compliance_reviewer", "admin", "supervisor")
# Where each kind is edited (the review page links back there).
EDIT_PAGES = {"settings": "config_admin.settings", "calendar": "config_admin.calendar",
              "mail_templates": "config_admin.mail_templates"}


def _problems(exc: config_review.ConfigRefused) -> dict[str, str]:
    return {field: _(template, **params) for field, (template, params) in exc.problems.items()}


# -- process settings ------------------------------------------------------------------------


def _settings_form() -> dict:
    values = {}
    for key, kind in SETTING_KINDS.items():
        values[key] = request.form.getlist(key) if kind in ("fields", "channels") else (request.form.get(key) or "")
    return values


def _settings_page(values: dict | None = None, errors: dict | None = None, note: str = "", status: int = 200):
    with database().session() as s:
        version, in_force = config_review.in_force(s, "settings")
        waiting = config_review.pending(s, "settings")
        recent = config_review.drafts(s, "settings")
        may_edit = actor().role in config_review.KINDS["settings"].authors
        shown = values or in_force
        changed = {k for k in SETTING_KINDS if _norm(shown.get(k)) != _norm(in_force.get(k))}
        return render_template(
            "admin/settings.html", version=version, in_force=in_force, values=shown, changed=changed,
            errors=errors or {}, note=note, pending=waiting, drafts=recent, may_edit=may_edit, kinds=SETTING_KINDS,
            labels=SETTING_LABELS, help=SETTING_HELP, field_labels=FIELD_LABELS, profile_labels=PROFILE_LABELS,
            choices={"fields": REQUIRABLE_FIELDS, "channels": CHANNELS, "profile": profile_names()}), status


def _norm(value):
    """A value as typed and as stored compare equal ("300" and 300)."""
    return [str(v) for v in value] if isinstance(value, list) else str(value if value is not None else "").strip()


@bp.get("/settings")
@roles_required(*VIEWERS)
def settings():
    return _settings_page()


@bp.post("/settings")
@roles_required(*VIEWERS)
def settings_propose():
    values, note = _settings_form(), (request.form.get("note") or "")[:5000]
    return _propose("settings", values, note, lambda errors, status: _settings_page(values, errors, note, status),
                    report=config_review.settings_test_run)


def _propose(kind: str, values: dict, note: str, redraw, report=None):
    """Send a change to a compliance reviewer and open it. A refusal redraws the form,
    ``redraw(errors, status)``, each message beside its field; ``report(session)`` is the test run
    a settings change carries for its reviewer."""
    try:
        with database().write_session.begin() as s:
            extra = {"report": report(s)} if report else {}
            draft_id = config_review.propose(s, actor(), kind, values, note, **extra).id
    except config_review.ConfigRefused as exc:
        return redraw(_problems(exc), 422)
    except RuntimeProblem as exc:
        return redraw({"note": problem_message(exc)}, exc.status)
    flash(_("Your change is waiting for a compliance reviewer."), "success")
    return redirect(url_for("config_admin.change", draft_id=draft_id))


# -- business calendar -----------------------------------------------------------------------


def _lines(days: list[dict]) -> str:
    return "\n".join(f"{d['date']} {d['name']}".strip() for d in days)


def _calendar_page(values: dict | None = None, errors: dict | None = None, note: str = "", status: int = 200):
    from processes.complaints import company_calendar
    from processes.complaints.sla import load_policy
    from web.i18n import ui_language

    year = request.args.get("year", "")
    year = int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else utcnow().year
    policy = load_policy()
    holidays, makeup = company_calendar.statutory(policy.country, year,
                                                  "zh_CN" if ui_language() == "zh-CN" else "en_US")
    with database().session() as s:
        version, in_force = config_review.in_force(s, "calendar")
        shown = values or {**in_force, "closures": _lines(in_force["closures"]), "workdays": _lines(in_force["workdays"])}
        return render_template(
            "admin/calendar.html", version=version, in_force=in_force, values=shown, errors=errors or {},
            note=note, pending=config_review.pending(s, "calendar"), drafts=config_review.drafts(s, "calendar"),
            may_edit=actor().role in config_review.KINDS["calendar"].authors, year=year, country=policy.country,
            holidays=holidays, makeup=makeup), status


@bp.get("/calendar")
@roles_required(*VIEWERS)
def calendar():
    return _calendar_page()


@bp.post("/calendar")
@roles_required(*VIEWERS)
def calendar_propose():
    values = {key: (request.form.get(key) or "")[:40000] for key in ("closures", "workdays", "opening", "closing")}
    note = (request.form.get("note") or "")[:5000]
    return _propose("calendar", values, note, lambda errors, status: _calendar_page(values, errors, note, status))


# -- e-mail templates ---------------------------------------------------------------------------


def _templates_page(values: dict | None = None, errors: dict | None = None, note: str = "",
                    previews: dict | None = None, status: int = 200):
    from processes.channels import mail_templates

    with database().session() as s:
        version, in_force = config_review.in_force(s, "mail_templates")
        return render_template(
            "admin/mail_templates.html", version=version, in_force=in_force, values=values or in_force,
            errors=errors or {}, note=note, previews=previews, pending=config_review.pending(s, "mail_templates"),
            drafts=config_review.drafts(s, "mail_templates"), templates=mail_templates.templates(),
            languages=mail_templates.LANGUAGES, allowed=mail_templates.allowed, template_labels=TEMPLATE_LABELS,
            may_edit=actor().role in config_review.KINDS["mail_templates"].authors), status


@bp.get("/mail-templates")
@roles_required(*VIEWERS)
def mail_templates():
    return _templates_page()


@bp.post("/mail-templates")
@roles_required(*VIEWERS)
def mail_templates_propose():
    from processes.channels import mail_templates as templates

    values = {key: (request.form.get(key) or "")[:20000] for key in templates.defaults()}
    note = (request.form.get("note") or "")[:5000]
    if request.form.get("action") == "preview":
        # The texts that differ from those in force, filled with sample values; nothing is stored.
        with database().session() as s:
            _version, in_force = config_review.in_force(s, "mail_templates")
        _cleaned, problems = templates.check(values)
        changed = sorted({tuple(k.split(".")[:2]) for k in values if values[k].replace("\r\n", "\n") != in_force[k]})
        previews = {f"{t}.{lang}": templates.preview(values, t, lang) for t, lang in changed
                    if not any(k.startswith(f"{t}.{lang}.") for k in problems)}
        errors = {field: _(template, **params) for field, (template, params) in problems.items()}
        return _templates_page(values, errors, note, previews, 422 if errors else 200)
    return _propose("mail_templates", values, note,
                    lambda errors, status: _templates_page(values, errors, note, None, status))


# -- review ----------------------------------------------------------------------------------


def _show(kind: str, key: str, value) -> str:
    """A value as the reviewer reads it."""
    if value is None:
        return "—"
    if kind == "settings" and SETTING_KINDS.get(key) == "fields":
        return ", ".join(str(FIELD_LABELS.get(v, v)) for v in value)
    if kind == "settings" and SETTING_KINDS.get(key) == "profile":
        return str(PROFILE_LABELS.get(value, value))
    if kind == "settings" and SETTING_KINDS.get(key) == "channels":
        from web.workspace_i18n import label

        return ", ".join(label("channel", v) for v in value)
    if isinstance(value, list):
        return "; ".join(f"{v['date']} {v.get('name', '')}".strip() if isinstance(v, dict) else str(v)
                         for v in value) or "—"
    return str(value)


def _label(kind: str, key: str) -> str:
    if kind == "mail_templates":
        template, language, part = key.split(".")
        return f"{TEMPLATE_LABELS.get(template, template)} · {language} · {PART_LABELS.get(part, part)}"
    return str(SETTING_LABELS.get(key, key)) if kind == "settings" else str(CHANGE_LABELS.get(kind, {}).get(key, key))


TEMPLATE_LABELS = {"acknowledgement": _l("Acknowledgement"), "request_details": _l("Request for details"),
                   "mediation_proposal": _l("Mediation proposal"), "response": _l("Response"),
                   "survey": _l("Satisfaction survey"), "duplicate_closed": _l("Handled under the original complaint"),
                   "tracking_link": _l("New tracking link")}
PART_LABELS = {"subject": _l("Subject"), "body": _l("Body")}
# Labels of other kinds' keys.
CHANGE_LABELS: dict[str, dict] = {
    "calendar": {"closures": _l("Company closures"), "workdays": _l("Extra working days"),
                 "opening": _l("Opening time"), "closing": _l("Closing time")},
}


def _change_page(draft_id: int, errors: dict | None = None, status: int = 200):
    with database().session() as s:
        draft = config_review.get(s, draft_id)
        rows = [(c.key, _label(draft.kind, c.key), _show(draft.kind, c.key, c.old), _show(draft.kind, c.key, c.new))
                for c in config_review.changes(s, draft)]
        me = actor()
        may_review = (draft.status == "submitted" and me.role in config_review.REVIEWERS
                      and me.username != draft.author)
        return render_template("admin/config_change.html", draft=draft, rows=rows, errors=errors or {},
                               may_review=may_review, own=me.username == draft.author,
                               edit_page=EDIT_PAGES.get(draft.kind), scenarios=(draft.report or {}).get("scenarios"),
                               ), status


@bp.get("/changes/<int:draft_id>")
@roles_required(*VIEWERS)
def change(draft_id: int):
    return _change_page(draft_id)


def _decide(draft_id: int, action):
    try:
        with database().write_session.begin() as s:
            action(s)
    except config_review.ConfigRefused as exc:
        return _change_page(draft_id, _problems(exc), 422)
    except RuntimeProblem as exc:
        flash(problem_message(exc), "error")
    return redirect(url_for("config_admin.change", draft_id=draft_id))


@bp.post("/changes/<int:draft_id>/approve")
@roles_required(*VIEWERS)
def approve(draft_id: int):
    comment = (request.form.get("comment") or "")[:5000]
    response = _decide(draft_id, lambda s: config_review.approve(s, actor(), draft_id, comment))
    return response


@bp.post("/changes/<int:draft_id>/reject")
@roles_required(*VIEWERS)
def reject(draft_id: int):
    comment = (request.form.get("comment") or "")[:5000]
    return _decide(draft_id, lambda s: config_review.reject(s, actor(), draft_id, comment))


@bp.post("/changes/<int:draft_id>/withdraw")
@roles_required(*VIEWERS)
def withdraw(draft_id: int):
    return _decide(draft_id, lambda s: config_review.withdraw(s, actor(), draft_id))
