"""The complaint file, complaint search and phone intake."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from werkzeug.utils import secure_filename

from processes.channels import conversation
from processes.channels.portal_models import Attachment, IntakeExtras, intake_extras, new_tracking_code
from processes.complaints import case_notes, customers
from processes.complaints import duplicates as linking
from processes.complaints.privacy import (
    mask_address,
    mask_email,
    mask_filename,
    mask_name,
    mask_phone,
    sees_customer_files,
    sees_personal_data,
)
from processes.complaints.records import CompensationEntry, Complaint, EscalationRecord, ImprovementAction
from processes.complaints.registration import (
    CATEGORIES,
    CHANNELS,
    SEVERITIES,
    TIERS,
    intake_errors,
    register,
)
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import NotFound, ValidationFailed
from processes.engine.models import HumanTask, ProcessDefinition, ProcessInstance
from web.auth import roles_required
from web.case_file import PREVIEW_CSP, PREVIEWABLE, case_summary, clock_rows, preview_type, staff_uploaders
from web.context import actor, database, runtime
from web.errors import problem_message
from web.form_render import attachment_label, store_upload
from web.i18n import ui_language
from web.workspace_i18n import diagram_in_language, element_name

bp = Blueprint("complaints", __name__)
bp.add_app_template_filter(mask_filename, "mask_filename")
url_prefix = "/complaints"

# Who may read complaint files at all (process designers work on models, not cases).
READERS = ("agent", "senior_agent", "department_staff", "supervisor", "manager", "compliance_reviewer", "admin")
# Who registers complaints taken on the phone.
INTAKE_ROLES = ("agent", "senior_agent", "supervisor", "admin")


# -- personal data ------------------------------------------------------------------


def customer_view(complaint: Complaint, who: Actor) -> dict:
    """The customer's details as this viewer may see them."""
    clear = sees_personal_data(who)
    return {
        "masked": not clear,
        "name": complaint.customer_name if clear else mask_name(complaint.customer_name),
        "phone": complaint.customer_phone if clear else mask_phone(complaint.customer_phone),
        "email": complaint.customer_email if clear else mask_email(complaint.customer_email),
        "address": complaint.customer_address if clear else mask_address(complaint.customer_address),
        "tier": complaint.customer_tier,
    }


def may_read_complaints(who: Actor) -> bool:
    return who.role in READERS


# -- the complaint file -------------------------------------------------------------


def load_complaint(session, reference: str) -> Complaint:
    complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if complaint is None:
        raise NotFound(_("There is no complaint %(reference)s.", reference=reference))
    return complaint


def records_of(session, reference: str) -> dict:
    """The compensation, escalations and improvement actions the process recorded for a complaint."""
    return {
        "compensation": list(session.scalars(select(CompensationEntry).where(
            CompensationEntry.business_key == reference).order_by(CompensationEntry.created_at))),
        "escalations": list(session.scalars(select(EscalationRecord).where(
            EscalationRecord.business_key == reference).order_by(EscalationRecord.at))),
        "improvements": list(session.scalars(select(ImprovementAction).where(
            ImprovementAction.business_key == reference).order_by(ImprovementAction.created_at))),
    }


def timeline(session, reference: str) -> list:
    return audit.history(session, reference)


def file_context(s, reference: str) -> dict:
    """Everything the complaint file shows, as the current person may see it."""
    who = actor()
    complaint = load_complaint(s, reference)
    history = timeline(s, reference)
    tasks = list(s.scalars(select(HumanTask).where(HumanTask.business_key == reference)
                           .order_by(HumanTask.created_at)))
    # Amounts the policy proposed live in the process's data: read them from an open task, if any.
    open_task = next((t for t in tasks if t.status == "open"), None)
    facts = runtime().task_data(open_task.id) if open_task is not None else None
    summary = case_summary(s, complaint, who, history=history, facts=facts)
    return {"complaint": complaint, "customer": customer_view(complaint, who), "history": history,
            "thread": conversation.thread(s, complaint, who, history), "notes": case_notes.notes_of(s, reference),
            "may_write": conversation.may_write(who), "summary": summary,
            "customer_total": len(customers.complaints_of(s, complaint)), "clocks": clock_rows(summary),
            "attachment_label": attachment_label,
            "records": records_of(s, reference), "links": duplicate_links(s, complaint, history),
            "may_link": linking.may_link(who), "tasks": tasks,
            "task_names": {t.id: element_name(s, t.bpmn_id, t.name) for t in tasks},
            "staff_files": staff_files(reference, history, complaint),
            "customer_file_rows": customer_file_rows(s, reference)}


def duplicate_links(s, complaint: Complaint, history: list) -> dict:
    """The complaint's original (confirmed or suspected), the duplicates confirmed against it, and
    whether a review found the suspicion wrong."""
    original = (s.scalar(select(Complaint).where(Complaint.reference == complaint.duplicate_of))
                if complaint.duplicate_of else None)
    rejected = any(e.action == "task_completed" and (e.detail or {}).get("task") == "Task_Review_Duplicate"
                   and ((e.detail or {}).get("data") or {}).get("is_duplicate") is False for e in history)
    return {"original": original, "confirmed": bool(complaint.duplicate_confirmed_by),
            "rejected": rejected and not complaint.duplicate_confirmed_by,
            "duplicates": linking.duplicates_of(s, complaint.reference)}


@bp.get("/<reference>")
@roles_required(*READERS)
def show(reference: str):
    return _render_file(reference)


def _render_file(reference: str, status: int = 200, **forms):
    """The file page; `forms` carries what a refused form had typed and its errors."""
    with database().session() as s:
        context = file_context(s, reference)
    values = {"link_errors": {}, "link_value": "", "note_errors": {}, "note_value": "", "message_errors": {},
              "message_values": {}, **forms}
    return render_template("complaint.html", **context, **values), status


def _field_errors(failure: ValidationFailed) -> dict[str, str]:
    """The refused field's message in the person's language (the template carries its parameters)."""
    return {name: problem_message(failure) for name in failure.errors}


@bp.post("/<reference>/notes")
@roles_required(*READERS)
def add_note(reference: str):
    """An internal note beside the conversation; @mentions notify colleagues."""
    body = request.form.get("body") or ""
    try:
        with database().write_session() as s, s.begin():
            case_notes.add_note(s, reference, actor(), body)
    except ValidationFailed as failure:
        return _render_file(reference, 422, note_errors=_field_errors(failure), note_value=body[:20000])
    flash(_("The note is saved. Only colleagues see it."), "success")
    return redirect(url_for("complaints.show", reference=reference) + "#notes-heading")


@bp.post("/<reference>/messages")
@roles_required(*READERS)
def write_to_customer(reference: str):
    """A message a person wrote to the customer: by e-mail and in their portal thread, audited."""
    values = {"subject": request.form.get("subject") or "", "body": request.form.get("body") or ""}
    if not conversation.may_write(actor()):
        abort(403, _("Only customer service writes to the customer."))
    mailer = runtime().mailer
    try:
        with database().write_session() as s, s.begin():
            load_complaint(s, reference)
            conversation.send_to_customer(s, mailer, reference, actor(), values["subject"], values["body"])
    except ValidationFailed as failure:
        kept = {k: v[:20000] for k, v in values.items()}
        return _render_file(reference, 422, message_errors=_field_errors(failure), message_values=kept)
    mailer.deliver_due()
    flash(_("The message is sent to the customer."), "success")
    return redirect(url_for("complaints.show", reference=reference) + "#conversation-heading")


@bp.post("/<reference>/duplicate")
@roles_required(*READERS)
def link_duplicate(reference: str):
    """A supervisor links this complaint to its original by hand, or undoes the link."""
    who = actor()
    if not linking.may_link(who):
        abort(403, _("Only a supervisor links or unlinks duplicates."))
    value = (request.form.get("original") or "").strip()[:40]
    unlink = request.form.get("action") == "unlink"
    try:
        with database().write_session() as s, s.begin():
            if unlink:
                linking.unlink_by_hand(s, reference, who)
            else:
                linking.link_by_hand(s, reference, value, who)
    except ValidationFailed as failure:
        return _render_file(reference, 422, link_errors=_field_errors(failure), link_value=value)
    flash(_("The link was removed.") if unlink else _("Linked as a duplicate of %(original)s.",
                                                        original=value.upper()), "success")
    return redirect(url_for("complaints.show", reference=reference) + "#links-heading")


def staff_files(reference: str, history: list | None = None, complaint: Complaint | None = None) -> list[dict]:
    """The files staff attached (at intake or with task forms), with who and when, and how to preview them."""
    folder = attachment_folder() / (secure_filename(reference) or "unfiled")
    if not folder.is_dir():
        return []
    uploaders = staff_uploaders(history or [])
    rows = []
    for path in sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime):
        with path.open("rb") as handle:
            head = handle.read(16)
        at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        by = uploaders.get(path.name, ((complaint.created_by if complaint else None) or "—", at))[0]
        rows.append({"name": path.name, "label": attachment_label(path.name), "by": by, "at": at,
                     "size": path.stat().st_size, "preview": preview_type(attachment_label(path.name), head)})
    return rows


def record_uploads(reference: str, names: list[str], task: str | None = None) -> None:
    """Who attached which file, when: an audit entry per file, as soon as it is stored."""
    who = actor()
    with database().write_session() as s, s.begin():
        for name in names:
            audit.append(s, who.username, "attachment_added", business_key=reference,
                         detail={"file": name, "task": task})


def customer_file_rows(s, reference: str) -> list[dict]:
    """The files the customer sent (portal, e-mail, API), without their bytes."""
    rows = s.execute(select(Attachment.id, Attachment.filename, Attachment.channel, Attachment.size,
                            Attachment.content_type, Attachment.created_at)
                     .where(Attachment.reference == reference).order_by(Attachment.id))
    return [{"id": r.id, "filename": r.filename, "channel": r.channel, "size": r.size, "at": r.created_at,
             "preview": r.content_type if r.content_type in PREVIEWABLE else None} for r in rows]


def preview_response(data_or_path, content_type: str, name: str):
    """Inline, with the sniffed type, sandboxed: the browser shows it but runs nothing in it."""
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    response = send_file(source, mimetype=content_type, as_attachment=False, download_name=name)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name)}"
    return response


def _customer_attachment(s, reference: str, file_id: int) -> Attachment:
    """The customer's file of this complaint, for someone who may open it (404 / 403 otherwise)."""
    load_complaint(s, reference)
    row = s.get(Attachment, file_id)
    if row is None or row.reference != reference:
        abort(404, _("This attachment is not stored here."))
    if not sees_customer_files(actor()):
        abort(403, _("The customer's files hold personal data; customer service opens them for you."))
    return row


@bp.get("/<reference>/customer-files/<int:file_id>")
@roles_required(*READERS)
def customer_file(reference: str, file_id: int):
    with database().session() as s:
        row = _customer_attachment(s, reference, file_id)
        return send_file(io.BytesIO(row.data), mimetype=row.content_type, as_attachment=True,
                         download_name=secure_filename(row.filename) or f"attachment-{row.id}")


@bp.get("/<reference>/customer-files/<int:file_id>/preview")
@roles_required(*READERS)
def customer_file_preview(reference: str, file_id: int):
    with database().session() as s:
        row = _customer_attachment(s, reference, file_id)
        # The stored type was sniffed at intake; checked again, so nothing but an image or a PDF shows inline.
        kind = preview_type(row.filename, row.data[:16])
        if kind is None:
            abort(415, _("This file cannot be previewed; download it instead."))
        return preview_response(row.data, kind, secure_filename(row.filename) or f"attachment-{row.id}")


@bp.get("/<reference>/attachments/<name>/preview")
@roles_required(*READERS)
def attachment_preview(reference: str, name: str):
    with database().session() as s:
        load_complaint(s, reference)
    folder = attachment_folder() / (secure_filename(reference) or "unfiled")
    path = folder / name
    if secure_filename(name) != name or not path.is_file():
        abort(404, _("This attachment is not stored here."))
    with path.open("rb") as handle:
        kind = preview_type(attachment_label(name), handle.read(16))
    if kind is None:
        abort(415, _("This file cannot be previewed; download it instead."))
    return preview_response(str(path), kind, attachment_label(name))


def attachment_folder() -> Path:
    return Path(current_app.instance_path) / "attachments"


@bp.get("/<reference>/attachments/<name>")
@roles_required(*READERS)
def attachment(reference: str, name: str):
    with database().session() as s:
        load_complaint(s, reference)
    folder = attachment_folder() / (secure_filename(reference) or "unfiled")
    if secure_filename(name) != name or not (folder / name).is_file():
        abort(404, _("This attachment is not stored here."))
    return send_from_directory(folder, name, as_attachment=True, download_name=attachment_label(name))


@bp.get("/<reference>/customer")
@roles_required(*READERS)
def customer_page(reference: str):
    """All complaints of this complaint's customer (same phone or e-mail), outcomes and satisfaction."""
    who = actor()
    with database().session() as s:
        complaint = load_complaint(s, reference)
        rows = customers.complaints_of(s, complaint)
        results = customers.outcomes(s, [c.reference for c in rows])
    return render_template("customer.html", complaint=complaint, customer=customer_view(complaint, who),
                           rows=rows, outcomes=results)


def repeat_count(s, complaint: Complaint) -> int:
    """Other complaints of the same customer within the repeat window (the flag on task pages)."""
    days = int((runtime().settings or {}).get("repeat_window_days", customers.REPEAT_WINDOW_DAYS))
    return customers.earlier_count(s, complaint.customer_phone, complaint.customer_email, days,
                                   exclude=complaint.reference)


@bp.get("/<reference>/diagram.json")
@roles_required(*READERS)
def diagram(reference: str):
    """The BPMN XML of the complaint's process version, where it is now and the path it took."""
    with database().session() as s:
        complaint = load_complaint(s, reference)
        if complaint.instance_id is None:
            abort(404, _("This complaint has no process."))
        instance = s.get(ProcessInstance, complaint.instance_id)
        definition = s.get(ProcessDefinition, instance.definition_id)
        xml = main_diagram(definition.files, instance.process_key)
    state = runtime().diagram_state(complaint.instance_id)
    # The labels in the interface language: the model's Chinese names or their name_en.
    return jsonify({"xml": diagram_in_language(xml, ui_language()), "current": sorted(state.current | state.waiting),
                    "waiting": sorted(state.waiting),
                    "done": sorted(state.done), "status": instance.status})


def main_diagram(files: dict[str, str], process_key: str) -> str | None:
    marker = re.compile(r'<(?:\w+:)?process\b[^>]*\bid="' + re.escape(process_key) + '"')
    for name, text in sorted(files.items()):
        if name.endswith(".bpmn") and marker.search(text):
            return text
    return None


# -- search -------------------------------------------------------------------------


def search_query(text: str, personal: bool = True):
    """Reference, customer phone and name use their indexes; words match the subject and description.

    Searching by phone or name is only for those who see personal data in clear:
    otherwise a masked number could be recovered by guessing."""
    text = text.strip()
    query = select(Complaint)
    digits = re.sub(r"[\s()-]", "", text)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions = [Complaint.reference == text.upper()]
    if personal:
        conditions.append(Complaint.customer_name == text)
        if re.fullmatch(r"\+?\d{5,20}", digits):
            conditions.append(Complaint.customer_phone == digits)
            conditions.append(Complaint.customer_phone == text)
    if len(text) >= 2:
        pattern = "%" + escaped + "%"
        conditions += [Complaint.subject.ilike(pattern, escape="\\"),
                       Complaint.description.ilike(pattern, escape="\\")]
        if personal:
            conditions.append(Complaint.customer_name.like(escaped + "%", escape="\\"))
    return query.where(or_(*conditions)).order_by(Complaint.received_at.desc()).limit(50)


@bp.get("/")
@roles_required(*READERS)
def search():
    text = (request.args.get("q") or "").strip()[:200]
    results = []
    if text:
        with database().session() as s:
            results = list(s.scalars(search_query(text, personal=sees_personal_data(actor()))))
        if len(results) == 1 and results[0].reference == text.upper():
            return redirect(url_for("complaints.show", reference=results[0].reference))
    who = actor()
    return render_template("complaint_search.html", q=text, results=results,
                           customers={c.reference: customer_view(c, who) for c in results})


# -- phone intake -------------------------------------------------------------------


def recent_for_phone(session, phone: str, days: int = 180) -> list[Complaint]:
    phone = re.sub(r"[\s()-]", "", phone or "")
    if len(phone) < 5:
        return []
    since = datetime.now(UTC) - timedelta(days=days)
    return list(session.scalars(select(Complaint).where(Complaint.customer_phone == phone,
                                                        Complaint.received_at >= since)
                                .order_by(Complaint.received_at.desc()).limit(10)))


@bp.get("/duplicates")
@roles_required(*INTAKE_ROLES)
def duplicates():
    """Recent complaints of a phone number: the warning shown while an agent types it (htmx)."""
    with database().session() as s:
        found = recent_for_phone(s, request.args.get("customer_phone", ""))
    return render_template("_duplicates.html", duplicates=found)


INTAKE_FIELDS = ("channel", "customer_name", "customer_phone", "customer_email", "customer_address",
                 "customer_tier", "subject", "description", "remedy_sought", "product", "order_number",
                 "order_value", "occurred_at", "occurred_where", "category", "severity")


def intake_payload(form) -> tuple[dict, dict, dict]:
    """(payload for processes.complaints.registration, raw values to show again, errors of unparseable values)."""
    raw = {name: (form.get(name) or "").strip() for name in INTAKE_FIELDS}
    raw["safety_issue"] = form.get("safety_issue") in ("on", "1", "true")
    errors: dict[str, str] = {}

    def opt(name):
        return raw[name] or None

    payload = {
        "channel": raw["channel"] or "phone",
        "customer": {"name": raw["customer_name"], "phone": opt("customer_phone"),
                     "email": opt("customer_email"), "address": opt("customer_address"),
                     "tier": opt("customer_tier")},
        "subject": raw["subject"], "description": raw["description"], "remedy_sought": opt("remedy_sought"),
        "product": opt("product"), "order_number": opt("order_number"), "occurred_where": opt("occurred_where"),
        "category": opt("category"), "severity": opt("severity"), "safety_issue": raw["safety_issue"],
    }
    if payload["customer"]["phone"]:
        payload["customer"]["phone"] = re.sub(r"[\s()-]", "", payload["customer"]["phone"])
    if raw["order_value"]:
        try:
            payload["order_value"] = float(raw["order_value"].replace(",", ""))
        except ValueError:
            errors["order_value"] = _("Enter a number, e.g. 120.50.")
    if raw["occurred_at"]:
        try:
            when = datetime.fromisoformat(raw["occurred_at"])
            payload["occurred_at"] = (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
        except ValueError:
            errors["occurred_at"] = _("Enter a date and time.")
    return payload, raw, errors


def translate_intake_errors(errors: dict[str, str]) -> dict[str, str]:
    """processes.complaints.registration reports in English with dotted paths; the form shows them per field."""
    shown = {}
    for path, message in errors.items():
        name = path.replace(".", "_")
        if message == "This field is required.":
            text = _("This field is required.")
        elif message.startswith("Give at least one way"):
            text = _("Give at least one way to reach the customer: phone, e-mail or address.")
        elif name == "customer_phone":
            text = _("Enter a phone number of 5 to 20 digits.")
        elif name == "customer_email":
            text = _("Enter a valid e-mail address.")
        elif "too long" in message:
            text = _("This text is too long.")
        elif "non-empty" in message or "too short" in message:
            text = _("This field is required.")
        else:
            text = _("Check this value.")
        shown.setdefault(name, text)
    return shown


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*INTAKE_ROLES)
def intake():
    raw: dict = {"channel": "phone", "safety_issue": False}
    errors: dict = {}
    duplicates_found: list = []
    if request.method == "POST":
        payload, raw, errors = intake_payload(request.form)
        uploads = [f for f in request.files.getlist("attachments") if f.filename]
        # Every problem at once: values that did not parse and what the intake schema says.
        errors = {**translate_intake_errors(intake_errors(payload)), **errors}
        with database().session() as s:
            duplicates_found = recent_for_phone(s, raw.get("customer_phone", ""))
        confirmed = request.form.get("duplicates_checked") == "on"
        if not errors and duplicates_found and not confirmed:
            errors["duplicates_checked"] = _("This customer complained recently. Check the complaints listed "
                                             "and tick the box if this is a new complaint.")
        if not errors:
            if uploads:
                staged = [store_upload(attachment_folder(), "intake", f) for f in uploads]
                payload["attachments"] = staged
            code = new_tracking_code()
            with intake_extras(IntakeExtras(channel=payload["channel"], language=ui_language(), code=code)):
                reference = register(runtime(), payload, actor(), in_form=True)
            if uploads:
                _move_intake_files(payload.get("attachments", []), reference)
                record_uploads(reference, payload.get("attachments", []))
            # Shown once: only its hash is kept. The customer opens the tracking page with both.
            flash(_("Complaint %(reference)s is registered. Read the reference and the tracking code "
                    "%(code)s to the customer: with both they follow it at %(where)s.", reference=reference,
                    code=code, where=url_for("portal.find", _external=True)), "success")
            return redirect(url_for("complaints.show", reference=reference))
    return render_template("intake.html", raw=raw, errors=errors, duplicates=duplicates_found,
                           channels=CHANNELS, categories=CATEGORIES, severities=SEVERITIES, tiers=TIERS), (
        422 if errors else 200)


def _move_intake_files(names: list[str], reference: str) -> None:
    source = attachment_folder() / "intake"
    target = attachment_folder() / secure_filename(reference)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (source / name).is_file():
            (source / name).rename(target / name)


@bp.app_template_global()
def may_take_calls() -> bool:
    return getattr(current_user, "is_authenticated", False) and current_user.role in INTAKE_ROLES


@bp.app_template_global()
def may_read_files() -> bool:
    return getattr(current_user, "is_authenticated", False) and current_user.role in READERS
