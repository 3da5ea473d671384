"""The public customer portal: file a complaint, follow it and answer through a private link.

No staff login here. Each page reads the request, asks the runtime or the database, renders.
Abuse protection: CSRF tokens, a hidden honeypot field, size and type checks on files before
anything is stored, and a per-address rate limit kept in the database (`rate_limited`).

The mailer comes with the app's runtime (`processes.app.build_runtime`). App config:
PORTAL_RATE_LIMITS ({"submit"|"answer"|"track"|"lost": (hits, timedelta)}); TIMEZONE (times
shown to customers, REDRESS_TIMEZONE). Behind a proxy, the client address needs ProxyFix.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from processes.channels import outbound_mail
from processes.channels.portal_models import (
    DETAIL_FIELDS,
    MAX_FILE_BYTES,
    MAX_FILES,
    MESSAGES,
    Attachment,
    InboundMessage,
    IntakeExtras,
    answer_errors,
    check_files,
    clean_answer,
    count_hit,
    intake_extras,
    new_token,
    normal_tracking_code,
    over_limit,
    rate_limited,
    token_matches,
)
from processes.complaints.customer_answers import open_answers
from processes.complaints.records import Complaint, Notification
from processes.complaints.registration import PROCESS_KEY, intake_errors, register
from processes.engine import inputsafe
from processes.engine.actors import Actor
from processes.engine.errors import Conflict, NotWaiting, RuntimeProblem
from processes.engine.models import AuditEntry
from web.context import database, runtime
from web.i18n import money, ui_language
from web.time_words import local_day, local_time

log = logging.getLogger(__name__)
bp = Blueprint("portal", __name__)
url_prefix = "/portal"

PORTAL_ACTOR = Actor("customer-portal", "customer_service", "agent")
# (hits, window) per client address; override with PORTAL_RATE_LIMITS in the app config.
RATE_LIMITS = {"submit": (5, timedelta(hours=1)), "answer": (30, timedelta(hours=1)),
               "track": (120, timedelta(minutes=10)), "lost": (5, timedelta(hours=1)),
               "find": (10, timedelta(hours=1))}
FORM_FIELDS = ("name", "phone", "email", "address", "subject", "description", "remedy_sought", "product",
               "order_number", "occurred_at", "occurred_where")
# Where an intake error about a payload path shows on the form.
FORM_FIELD_OF = {"customer.name": "name", "customer.phone": "phone", "customer.email": "email",
                 "customer.address": "address", "occurred_at": "occurred_at"}
# What happens when the customer does not answer in time, by what they are asked for.
ANSWER_CONSEQUENCES = {
    "details": _l("Without the details the complaint will be closed as incomplete."),
    "response": _l("Without an answer we take it that you accept."),
    "mediation": _l("Without an answer our management will decide."),
    "survey": _l("Without an answer customer service will call you."),
}
STATUS_WORDS = {
    "registered": _l("We have received your complaint."),
    "awaiting_details": _l("We need a few more details from you."),
    "acknowledged": _l("Your complaint is accepted and being assigned."),
    "classified": _l("Your complaint is with the responsible department."),
    "investigating": _l("The responsible department is looking into it."),
    "reconciling": _l("We are preparing a solution."),
    "awaiting_approval": _l("The solution is being approved."),
    "awaiting_customer": _l("We have answered and are waiting for your reply."),
    "escalated": _l("Your complaint was escalated to a more senior team."),
    "follow_up": _l("It is resolved; we will ask for your feedback shortly."),
    "awaiting_survey": _l("Please tell us how satisfied you are."),
    "closed": _l("Your complaint is resolved and closed."),
    "closed_incomplete": _l("The complaint was closed because details were missing."),
    "closed_duplicate": _l("This complaint duplicates an earlier one and is handled there."),
}
TEMPLATE_TITLES = {
    "acknowledgement": _l("Acknowledgement"),
    "request_details": _l("Request for details"),
    "mediation_proposal": _l("Mediation proposal"),
    "response": _l("Our answer"),
    "survey": _l("Satisfaction survey"),
    "duplicate_closed": _l("Handled under your earlier complaint"),
    "staff_message": _l("Message from customer service"),
}
MESSAGE_TITLES = {
    "customer_details": _l("Details you added"),
    "customer_response": _l("Your reply"),
    "survey_answer": _l("Your feedback"),
}
DECISIONS = {"accept": _l("Accept"), "reject": _l("Reject"), "counter": _l("Counter-proposal")}
DETAIL_LABELS = {
    "customer_name": _l("Name"), "customer_phone": _l("Phone number"),
    "customer_email": _l("E-mail address"), "customer_address": _l("Address"),
    "subject": _l("Subject"), "description": _l("What happened"),
    "remedy_sought": _l("What you would like us to do"), "product": _l("Product or service"),
    "order_number": _l("Order number"), "occurred_at": _l("When it happened"),
    "occurred_where": _l("Where it happened"),
}


def pick(text) -> str:
    """A catalog string (lazy) as text in the interface language."""
    return str(text)


@bp.context_processor
def _helpers() -> dict:
    return {"pick": pick, "money": money, "max_files": MAX_FILES, "max_mb": MAX_FILE_BYTES // (1024 * 1024)}


def _mailer() -> outbound_mail.Mailer:
    return current_app.extensions["redress.runtime"].mailer


@bp.after_request
def _private(response):
    # Tracking pages carry personal data and a secret link: no caches, no search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# -- abuse protection --------------------------------------------------------------------


def _client() -> str:
    return request.remote_addr or "unknown"


def _limit(kind: str) -> tuple[int, timedelta]:
    return {**RATE_LIMITS, **(current_app.config.get("PORTAL_RATE_LIMITS") or {})}[kind]


def _over_limit(kind: str, count: bool = True) -> bool:
    """Whether this address is over the limit of `kind`; counts this request unless `count` is False."""
    hits, window = _limit(kind)
    with database().write_session() as s, s.begin():
        if not count:
            return over_limit(s, f"portal-{kind}:{_client()}", hits, window)
        return rate_limited(s, f"portal-{kind}:{_client()}", hits, window)


def _count_submission() -> None:
    with database().write_session() as s, s.begin():
        count_hit(s, f"portal-submit:{_client()}", _limit("submit")[1])


def _hotline() -> str | None:
    """The hotline of the approved settings, else the deployment's REDRESS_HOTLINE."""
    with database().session() as s:
        approved = runtime().settings_in_force(s)[1].get("hotline")
    return approved or current_app.config.get("HOTLINE")


def _too_many_text() -> str:
    hotline = _hotline()
    if hotline:
        return _("Too many complaints came from your network address just now. Everything you typed is kept: "
                 "please send it again later, or call our customer service hotline %(hotline)s.", hotline=hotline)
    return _("Too many complaints came from your network address just now. Everything you typed is kept: "
             "please send it again later, or call our customer service.")


def _too_many():
    hotline = _hotline()
    message = (_("Too many requests came from your network address. Please try again later, or call our "
                 "customer service hotline %(hotline)s.", hotline=hotline) if hotline else
               _("Too many requests came from your network address. Please try again "
                 "later, or call our customer service."))
    return render_template("portal/notice.html", title=_("Please try again later"), message=message), 429


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return render_template("portal/notice.html", title=_("Files too large"),
                           message=_("The files are too large; each may be at most %(mb)s MB. Go back and choose smaller ones.",
                                     mb=MAX_FILE_BYTES // 1048576)), 413


# -- filing a complaint ------------------------------------------------------------------


@bp.get("/")
def complaint_form():
    return render_template("portal/form.html", values={}, errors={})


@bp.post("/")
def submit():
    values = {name: (request.form.get(name) or "").strip() for name in FORM_FIELDS}
    values["consent"] = bool(request.form.get("consent"))
    if request.form.get("website"):
        # Only robots fill the hidden field; tell them nothing useful and store nothing.
        return render_template("portal/notice.html", title=_("Not submitted"),
                               message=_("Your complaint could not be submitted.")), 400
    # Only complaints taken count towards the limit: a customer correcting a refused form, or
    # several people behind one office address, are not turned away for trying.
    if _over_limit("submit", count=False):
        errors = {"__all__": _too_many_text()}
        return render_template("portal/form.html", values=values, errors=errors), 429
    payload = _payload(values)
    errors = _form_errors(values, payload)
    uploads = [(f.filename or "", f.stream.read(MAX_FILE_BYTES + 1))
               for f in request.files.getlist("attachments") if f and f.filename]
    files, problems = check_files(uploads, ui_language())
    if problems:
        errors["attachments"] = " ".join(problems)
    if errors:
        if uploads:
            errors.setdefault("attachments", _("Please choose the files again."))
        return render_template("portal/form.html", values=values, errors=errors), 422
    token = new_token()
    try:
        with intake_extras(IntakeExtras(channel="web", language=ui_language(), token=token, files=files)):
            reference = register(runtime(), payload, PORTAL_ACTOR)
    except RuntimeProblem:
        log.exception("a portal complaint could not be registered")
        errors = {"__all__": _("We could not take your complaint just now; nothing was saved. Please try again shortly.")}
        return render_template("portal/form.html", values=values, errors=errors), 503
    _count_submission()
    session["portal_submitted"] = {"reference": reference, "token": token}
    return redirect(url_for(".submitted"))


def _payload(values: dict) -> dict:
    occurred = values.get("occurred_at") or None
    if occurred and len(occurred) == 10:  # a date input: the day, at midnight UTC
        occurred += "T00:00:00+00:00"
    return {
        "channel": "web",
        "customer": {"name": values["name"], "phone": values["phone"] or None, "email": values["email"] or None,
                     "address": values["address"] or None},
        "subject": values["subject"], "description": values["description"],
        "remedy_sought": values["remedy_sought"] or None, "product": values["product"] or None,
        "order_number": values["order_number"] or None, "occurred_at": occurred,
        "occurred_where": values["occurred_where"] or None,
    }


FIELD_ERRORS = {
    "name": _l("Enter your name (at most 200 characters)."),
    "phone": _l("Enter a valid phone number, e.g. +86 138 0013 8000."),
    "email": _l("Enter a valid e-mail address."),
    "address": _l("The address may be at most 500 characters."),
    "subject": _l("Enter a subject (at most 300 characters)."),
    "description": _l("Describe what happened (at most 20,000 characters)."),
    "remedy_sought": _l("Tell us what you would like us to do (at most 5,000 characters)."),
    "product": _l("At most 200 characters."),
    "order_number": _l("At most 100 characters."),
    "occurred_at": _l("Choose a date between 1900 and today."),
    "occurred_where": _l("At most 300 characters."),
    "contact": _l("Leave a phone number or an e-mail address so we can reach you."),
    "consent": _l("Please agree that we use your personal data to handle the complaint."),
}


def _form_errors(values: dict, payload: dict) -> dict[str, str]:
    unsafe = inputsafe.value_problems(payload)
    if unsafe:  # named beside the field; the schema's messages would not say what is wrong
        message = _("This field contains a character that cannot be stored (such as a NUL byte); "
                    "remove it and send again.")
        return {FORM_FIELD_OF.get(path, path.split(".")[-1]): message for path in unsafe}
    errors: dict[str, str] = {}
    for path in intake_errors(payload):
        field = FORM_FIELD_OF.get(path, path.split(".")[-1])
        if path == "customer.phone" and not values["phone"] and not values["email"]:
            field = "contact"
        errors[field if field in FIELD_ERRORS else "description"] = pick(FIELD_ERRORS.get(field, FIELD_ERRORS["description"]))
    if not values["phone"] and not values["email"]:
        errors["contact"] = pick(FIELD_ERRORS["contact"])
        errors.pop("phone", None)
    if not values["remedy_sought"]:
        errors["remedy_sought"] = pick(FIELD_ERRORS["remedy_sought"])
    if not values["consent"]:
        errors["consent"] = pick(FIELD_ERRORS["consent"])
    return errors


@bp.get("/submitted")
def submitted():
    info = session.get("portal_submitted")
    if not info:
        return redirect(url_for(".complaint_form"))
    link = _mailer().link(info["reference"], info["token"])  # the same address as in the e-mail
    return render_template("portal/submitted.html", reference=info["reference"], link=link)


# -- following a complaint ---------------------------------------------------------------


def _not_found():
    # The same page whether the reference is unknown or the token wrong or expired.
    return render_template("portal/not_found.html"), 404


@bp.get("/track/<reference>/<token>")
def track(reference: str, token: str):
    if _over_limit("track"):
        return _too_many()
    page = _tracking_page(reference, token)
    if page is None:
        return _not_found()
    return render_template("portal/track.html", **page, values={}, errors={}, answering=None)


def _tracking_page(reference: str, token: str) -> dict | None:
    with database().session() as s:
        if not token_matches(s, reference, token):
            return None
        complaint = s.scalar(select(Complaint).where(Complaint.reference == reference))
        if complaint is None:
            return None
        notes = list(s.scalars(select(Notification).where(Notification.business_key == reference,
                                                          Notification.recipient_type == "customer")
                               .order_by(Notification.id)))
        answers = list(s.scalars(select(AuditEntry).where(AuditEntry.business_key == reference,
                                                          AuditEntry.action == "message_received")
                                 .order_by(AuditEntry.id)))
        # Only mail from the customer's own address appears as theirs; anyone can write a reference.
        own_address = (complaint.customer_email or "").strip().lower()
        inbound = [m for m in s.scalars(select(InboundMessage).where(InboundMessage.reference == reference)
                                        .order_by(InboundMessage.id))
                   if own_address and m.sender.strip().lower() == own_address]
        files = list(s.scalars(select(Attachment.filename).where(Attachment.reference == reference)
                               .order_by(Attachment.id)))
        instance = runtime().instance_for(reference, PROCESS_KEY)
        answers_open = open_answers(s, instance)
        deadline = outbound_mail.resolve_deadline(complaint)
        return {
            "complaint": complaint, "reference": reference, "token": token,
            "status_text": pick(STATUS_WORDS.get(complaint.status, _l("We are handling your complaint."))),
            "closed": complaint.status.startswith("closed"),
            "deadline": deadline, "answer_by": [(d.due_at, pick(ANSWER_CONSEQUENCES[d.kind])) for d in answers_open.deadlines],
            "timeline": _timeline(complaint, notes, answers, inbound),
            "files": files, "awaiting": answers_open.messages,
            "question": _open_question(notes), "missing": _missing_fields(notes),
        }


def _timeline(complaint: Complaint, notes, answers, inbound) -> list[dict]:
    items = [{"at": complaint.received_at, "mine": True, "title": _("Your complaint"),
              "text": f"{complaint.subject}\n\n{complaint.description}"}]
    for n in notes:
        payload = n.payload or {}
        text = n.body or ""
        if n.template == "acknowledgement":
            text = _("We accepted your complaint, reference %(reference)s.", reference=complaint.reference)
        elif n.template == "request_details":
            text = _("Please add: ") + "、".join(
                pick(DETAIL_LABELS.get(f, f)) if f != "contact" else _("phone or e-mail")
                for f in payload.get("missing_fields") or [])
        elif n.template == "survey":
            text = _("Please tell us how satisfied you are.")
        elif n.template == "duplicate_closed":
            text = _("This complaint is about the same matter as your earlier complaint %(original)s. We handle "
                     "both under %(original)s; please follow that one.", original=payload.get("original", ""))
        amount = payload.get("proposal_amount") or payload.get("compensation_amount")
        if amount:
            text += "\n" + _("Amount: %(amount)s", amount=money(amount))
        items.append({"at": n.created_at, "mine": False,
                      "title": pick(TEMPLATE_TITLES.get(n.template, n.subject)), "text": text})
    for a in answers:
        name = (a.detail or {}).get("message")
        if name not in MESSAGE_TITLES:
            continue
        items.append({"at": a.at, "mine": True, "title": pick(MESSAGE_TITLES[name]),
                      "text": _answer_text(name, (a.detail or {}).get("data") or {})})
    for m in inbound:
        items.append({"at": m.received_at, "mine": True, "title": _("Your e-mail"), "text": m.body})
    return sorted(items, key=lambda item: item["at"])


def _answer_text(name: str, data: dict) -> str:
    if name == "customer_response":
        lines = [pick(DECISIONS.get(data.get("customer_decision"), ""))]
        lines += [str(data[k]) for k in ("counter_proposal", "comment") if data.get(k)]
        return "\n".join(lines)
    if name == "survey_answer":
        resolved = _("resolved") if data.get("resolved") else _("not resolved")
        text = _("Score %(score)s/5, %(resolved)s", score=data.get("satisfaction_score"), resolved=resolved)
        return text + (f"\n{data['comment']}" if data.get("comment") else "")
    return "\n".join(f"{pick(DETAIL_LABELS.get(k, k))}: {v}" for k, v in data.items())


def _open_question(notes) -> dict | None:
    """The latest proposal or answer the customer is asked to accept."""
    for n in reversed(notes):
        if n.template in ("mediation_proposal", "response"):
            payload = n.payload or {}
            return {"title": pick(TEMPLATE_TITLES[n.template]), "text": n.body or payload.get("proposal") or "",
                    "amount": payload.get("proposal_amount") or payload.get("compensation_amount"),
                    "round": payload.get("round"), "max_rounds": payload.get("max_rounds")}
    return None


def _missing_fields(notes) -> list[str]:
    for n in reversed(notes):
        if n.template == "request_details":
            fields = []
            for f in (n.payload or {}).get("missing_fields") or []:
                fields += ["customer_phone", "customer_email"] if f == "contact" else [f]
            return [f for f in fields if f in DETAIL_FIELDS] or ["description"]
    return ["remedy_sought", "description"]


@bp.post("/track/<reference>/<token>/<name>")
def answer(reference: str, token: str, name: str):
    if name not in MESSAGES:
        return _not_found()
    if _over_limit("answer"):
        return _too_many()
    page = _tracking_page(reference, token)
    if page is None:
        return _not_found()
    data = _answer_data(name)
    errors = answer_errors(name, data, ui_language())
    if errors:
        return render_template("portal/track.html", **page, values=request.form, errors=errors, answering=name), 422
    try:
        runtime().correlate(reference, name, clean_answer(name, data), PORTAL_ACTOR)
    except NotWaiting:
        return render_template("portal/not_waiting.html", reference=reference, token=token), 409
    except Conflict:  # changed by someone else at the same moment: nothing was recorded
        errors = {"__all__": _("Your complaint was being updated at that moment; your answer was not saved. "
                                 "Please send it again.")}
        return render_template("portal/track.html", **page, values=request.form, errors=errors, answering=name), 409
    flash(_("Thank you, we have received your answer."), "success")
    return redirect(url_for(".track", reference=reference, token=token))


def _answer_data(name: str) -> dict:
    form = request.form
    if name == "customer_details":
        return {k: form.get(k, "") for k in DETAIL_FIELDS if form.get(k, "").strip()}
    if name == "customer_response":
        return {k: form.get(k, "") for k in ("customer_decision", "comment", "counter_proposal") if k in form}
    score = form.get("satisfaction_score", "")
    resolved = form.get("resolved")
    return {"satisfaction_score": int(score) if score.isdigit() and len(score) < 3 else score or None,
            "resolved": {"yes": True, "no": False}.get(resolved, resolved),
            "comment": form.get("comment", "")}


# -- reference and tracking code (a customer registered on the phone, maybe without e-mail) --


@bp.route("/find", methods=["GET", "POST"])
def find():
    if request.method == "GET":
        return render_template("portal/find.html", values={}, errors={})
    values = {"reference": (request.form.get("reference") or "").strip().upper()[:40],
              "code": (request.form.get("code") or "").strip()[:40]}
    errors = {}
    if not values["reference"]:
        errors["reference"] = _("Enter the reference of your complaint, e.g. TS-20250301-ABCDE.")
    code = normal_tracking_code(values["code"])
    if code is None:
        errors["code"] = _("Enter the tracking code of 10 letters and digits we read out to you, e.g. K7QX3-MPA9R.")
    if errors:
        return render_template("portal/find.html", values=values, errors=errors), 422
    if _over_limit("find"):  # counts every attempt: codes cannot be guessed by trying
        return _too_many()
    with database().session() as s:
        matches = token_matches(s, values["reference"], code)
    if not matches:
        # The same answer for an unknown reference and a wrong code.
        errors["code"] = _("This reference and tracking code do not match. Check both and try again.")
        return render_template("portal/find.html", values=values, errors=errors), 404
    return redirect(url_for(".track", reference=values["reference"], token=code))


# -- a lost link -------------------------------------------------------------------------


@bp.route("/lost-link", methods=["GET", "POST"])
def lost_link():
    if request.method == "GET":
        return render_template("portal/lost_link.html", values={})
    if _over_limit("lost"):
        return _too_many()
    reference = (request.form.get("reference") or "").strip().upper()[:40]
    email = (request.form.get("email") or "").strip().lower()[:200]
    mailer = _mailer()
    with database().write_session() as s, s.begin():
        complaint = s.scalar(select(Complaint).where(Complaint.reference == reference)) if reference else None
        if complaint is not None and email and (complaint.customer_email or "").strip().lower() == email:
            mailer.queue_link(s, reference, complaint.customer_email, ui_language())
    mailer.deliver_due()
    # The same answer either way, so nobody learns which references and addresses exist.
    return render_template("portal/notice.html", title=_("Check your e-mail"),
                           message=_("If the reference and e-mail match our records, we have sent a new link to "
                                     "that address.")), 200


@bp.app_template_filter("portal_time")
def _portal_time(value, with_time: bool = True) -> str:
    """Customers read times in the company's zone, as staff do (REDRESS_TIMEZONE, default Asia/Shanghai)."""
    if value is None:
        return ""
    return local_time(value) if with_time else local_day(value)
