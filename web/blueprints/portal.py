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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    intake_extras,
    new_token,
    rate_limited,
    token_matches,
)
from processes.complaints.customer_answers import open_answers
from processes.complaints.records import Complaint, Notification
from processes.complaints.registration import PROCESS_KEY, intake_errors, register
from processes.engine.actors import Actor
from processes.engine.errors import Conflict, NotWaiting, RuntimeProblem
from processes.engine.models import AuditEntry, utcnow
from web.context import database, runtime
from web.i18n import ui_language

log = logging.getLogger(__name__)
bp = Blueprint("portal", __name__)
url_prefix = "/portal"

PORTAL_ACTOR = Actor("customer-portal", "customer_service", "agent")
# (hits, window) per client address; override with PORTAL_RATE_LIMITS in the app config.
RATE_LIMITS = {"submit": (5, timedelta(hours=1)), "answer": (30, timedelta(hours=1)),
               "track": (120, timedelta(minutes=10)), "lost": (5, timedelta(hours=1))}
FORM_FIELDS = ("name", "phone", "email", "address", "subject", "description", "remedy_sought", "product",
               "order_number", "occurred_at", "occurred_where")
# Where an intake error about a payload path shows on the form.
FORM_FIELD_OF = {"customer.name": "name", "customer.phone": "phone", "customer.email": "email",
                 "customer.address": "address", "occurred_at": "occurred_at"}
# What happens when the customer does not answer in time, by what they are asked for.
ANSWER_CONSEQUENCES = {
    "details": ("逾期未补充,投诉将按信息不全结案。", "Without the details the complaint will be closed as incomplete."),
    "response": ("逾期未答复视为接受。", "Without an answer we take it that you accept."),
    "mediation": ("逾期未答复将由管理层决定。", "Without an answer our management will decide."),
    "survey": ("逾期未答复,客服会致电回访。", "Without an answer customer service will call you."),
}
STATUS_WORDS = {
    "registered": ("我们已收到您的投诉。", "We have received your complaint."),
    "awaiting_details": ("我们需要您补充一些信息。", "We need a few more details from you."),
    "acknowledged": ("您的投诉已受理,正在分派给负责的部门。", "Your complaint is accepted and being assigned."),
    "classified": ("您的投诉已分派给负责的部门。", "Your complaint is with the responsible department."),
    "investigating": ("负责部门正在调查您反映的问题。", "The responsible department is looking into it."),
    "reconciling": ("我们正在准备解决方案。", "We are preparing a solution."),
    "awaiting_approval": ("解决方案正在审批中。", "The solution is being approved."),
    "awaiting_customer": ("我们已给您答复,正在等待您的意见。", "We have answered and are waiting for your reply."),
    "escalated": ("您的投诉已升级,由更资深的人员处理。", "Your complaint was escalated to a more senior team."),
    "follow_up": ("问题已解决,我们稍后会请您评价。", "It is resolved; we will ask for your feedback shortly."),
    "awaiting_survey": ("请告诉我们您是否满意。", "Please tell us how satisfied you are."),
    "closed": ("您的投诉已处理完毕并结案。", "Your complaint is resolved and closed."),
    "closed_incomplete": ("因信息不全,投诉已结案。", "The complaint was closed because details were missing."),
    "closed_duplicate": ("此投诉与您之前的投诉重复,已合并处理。", "This complaint duplicates an earlier one and is handled there."),
}
TEMPLATE_TITLES = {
    "acknowledgement": ("受理通知", "Acknowledgement"),
    "request_details": ("请补充信息", "Request for details"),
    "mediation_proposal": ("调解方案", "Mediation proposal"),
    "response": ("处理结果", "Our answer"),
    "survey": ("满意度调查", "Satisfaction survey"),
}
MESSAGE_TITLES = {
    "customer_details": ("您补充的信息", "Details you added"),
    "customer_response": ("您的答复", "Your reply"),
    "survey_answer": ("您的评价", "Your feedback"),
}
DECISIONS = {"accept": ("接受", "Accept"), "reject": ("拒绝", "Reject"), "counter": ("提出我的方案", "Counter-proposal")}
DETAIL_LABELS = {
    "customer_name": ("姓名", "Name"), "customer_phone": ("联系电话", "Phone"),
    "customer_email": ("电子邮箱", "E-mail"), "customer_address": ("地址", "Address"),
    "subject": ("主题", "Subject"), "description": ("问题描述", "What happened"),
    "remedy_sought": ("您的诉求", "What you would like us to do"), "product": ("产品或服务", "Product or service"),
    "order_number": ("订单号", "Order number"), "occurred_at": ("发生时间", "When it happened"),
    "occurred_where": ("发生地点", "Where it happened"),
}


def tr(zh: str, en: str) -> str:
    return en if ui_language() == "en" else zh


def pick(pair: tuple[str, str]) -> str:
    return tr(*pair)


@bp.context_processor
def _helpers() -> dict:
    return {"tr": tr, "pick": pick, "max_files": MAX_FILES, "max_mb": MAX_FILE_BYTES // (1024 * 1024)}


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


def _over_limit(kind: str) -> bool:
    limits = {**RATE_LIMITS, **(current_app.config.get("PORTAL_RATE_LIMITS") or {})}
    hits, window = limits[kind]
    with database().write_session() as s, s.begin():
        return rate_limited(s, f"portal-{kind}:{_client()}", hits, window)


def _too_many():
    return render_template("portal/notice.html", title=tr("请稍后再试", "Please try again later"),
                           message=tr("来自您的网络地址的请求太多了。请稍后再试,或致电客服热线。",
                                      "Too many requests came from your network address. Please try again "
                                      "later, or call our customer service.")), 429


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return render_template("portal/notice.html", title=tr("文件太大", "Files too large"),
                           message=tr(f"附件总大小超过上限,每个文件不超过 {MAX_FILE_BYTES // 1048576} MB。请返回重新选择。",
                                      f"The files are too large; each may be at most {MAX_FILE_BYTES // 1048576} MB. "
                                      "Go back and choose smaller ones.")), 413


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
        return render_template("portal/notice.html", title=tr("无法提交", "Not submitted"),
                               message=tr("您的投诉未能提交。", "Your complaint could not be submitted.")), 400
    if _over_limit("submit"):
        return _too_many()
    payload = _payload(values)
    errors = _form_errors(values, payload)
    uploads = [(f.filename or "", f.stream.read(MAX_FILE_BYTES + 1))
               for f in request.files.getlist("attachments") if f and f.filename]
    files, problems = check_files(uploads, ui_language())
    if problems:
        errors["attachments"] = " ".join(problems)
    if errors:
        if uploads:
            errors.setdefault("attachments", tr("请重新选择附件。", "Please choose the files again."))
        return render_template("portal/form.html", values=values, errors=errors), 422
    token = new_token()
    try:
        with intake_extras(IntakeExtras(channel="web", language=ui_language(), token=token, files=files)):
            reference = register(runtime(), payload, PORTAL_ACTOR)
    except RuntimeProblem:
        log.exception("a portal complaint could not be registered")
        errors = {"__all__": tr("暂时无法提交您的投诉,什么都没有保存。请稍后再试。",
                                "We could not take your complaint just now; nothing was saved. Please try again shortly.")}
        return render_template("portal/form.html", values=values, errors=errors), 503
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
    "name": ("请填写您的姓名(不超过 200 字)。", "Enter your name (at most 200 characters)."),
    "phone": ("电话号码格式不正确,例如 13800138000。", "Enter a valid phone number, e.g. +86 138 0013 8000."),
    "email": ("电子邮箱格式不正确。", "Enter a valid e-mail address."),
    "address": ("地址不超过 500 字。", "The address may be at most 500 characters."),
    "subject": ("请填写主题(不超过 300 字)。", "Enter a subject (at most 300 characters)."),
    "description": ("请描述发生了什么(不超过 20000 字)。", "Describe what happened (at most 20,000 characters)."),
    "remedy_sought": ("请告诉我们您希望如何解决(不超过 5000 字)。", "Tell us what you would like us to do (at most 5,000 characters)."),
    "product": ("不超过 200 字。", "At most 200 characters."),
    "order_number": ("不超过 100 字。", "At most 100 characters."),
    "occurred_at": ("请选择一个日期。", "Choose a date."),
    "occurred_where": ("不超过 300 字。", "At most 300 characters."),
    "contact": ("请至少留下电话或电子邮箱,以便我们联系您。", "Leave a phone number or an e-mail address so we can reach you."),
    "consent": ("请同意我们为处理投诉而使用您的个人信息。", "Please agree that we use your personal data to handle the complaint."),
}


def _form_errors(values: dict, payload: dict) -> dict[str, str]:
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
            "status_text": pick(STATUS_WORDS.get(complaint.status, ("我们正在处理您的投诉。", "We are handling your complaint."))),
            "closed": complaint.status.startswith("closed"),
            "deadline": deadline, "answer_by": [(d.due_at, pick(ANSWER_CONSEQUENCES[d.kind])) for d in answers_open.deadlines],
            "timeline": _timeline(complaint, notes, answers, inbound),
            "files": files, "awaiting": answers_open.messages,
            "question": _open_question(notes), "missing": _missing_fields(notes),
        }


def _timeline(complaint: Complaint, notes, answers, inbound) -> list[dict]:
    items = [{"at": complaint.received_at, "mine": True, "title": tr("您的投诉", "Your complaint"),
              "text": f"{complaint.subject}\n\n{complaint.description}"}]
    for n in notes:
        payload = n.payload or {}
        text = n.body or ""
        if n.template == "acknowledgement":
            text = tr(f"我们已受理您的投诉,编号 {complaint.reference}。", f"We accepted your complaint, reference {complaint.reference}.")
        elif n.template == "request_details":
            text = tr("请补充:", "Please add: ") + "、".join(
                pick(DETAIL_LABELS.get(f, (f, f))) if f != "contact" else tr("电话或邮箱", "phone or e-mail")
                for f in payload.get("missing_fields") or [])
        elif n.template == "survey":
            text = tr("请告诉我们您是否满意。", "Please tell us how satisfied you are.")
        amount = payload.get("proposal_amount") or payload.get("compensation_amount")
        if amount:
            text += "\n" + tr(f"金额:{amount} 元", f"Amount: CNY {amount}")
        items.append({"at": n.created_at, "mine": False,
                      "title": pick(TEMPLATE_TITLES.get(n.template, (n.subject, n.subject))), "text": text})
    for a in answers:
        name = (a.detail or {}).get("message")
        if name not in MESSAGE_TITLES:
            continue
        items.append({"at": a.at, "mine": True, "title": pick(MESSAGE_TITLES[name]),
                      "text": _answer_text(name, (a.detail or {}).get("data") or {})})
    for m in inbound:
        items.append({"at": m.received_at, "mine": True, "title": tr("您的邮件", "Your e-mail"), "text": m.body})
    return sorted(items, key=lambda item: item["at"])


def _answer_text(name: str, data: dict) -> str:
    if name == "customer_response":
        lines = [pick(DECISIONS.get(data.get("customer_decision"), ("", "")))]
        lines += [str(data[k]) for k in ("counter_proposal", "comment") if data.get(k)]
        return "\n".join(lines)
    if name == "survey_answer":
        resolved = tr("已解决", "resolved") if data.get("resolved") else tr("未解决", "not resolved")
        text = tr(f"评分 {data.get('satisfaction_score')}/5,{resolved}", f"Score {data.get('satisfaction_score')}/5, {resolved}")
        return text + (f"\n{data['comment']}" if data.get("comment") else "")
    return "\n".join(f"{pick(DETAIL_LABELS.get(k, (k, k)))}: {v}" for k, v in data.items())


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
        errors = {"__all__": tr("您的投诉刚好正在更新,答复没有保存。请再提交一次。",
                                "Your complaint was being updated at that moment; your answer was not saved. "
                                "Please send it again.")}
        return render_template("portal/track.html", **page, values=request.form, errors=errors, answering=name), 409
    flash(tr("谢谢,我们已收到您的答复。", "Thank you, we have received your answer."), "success")
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
    return render_template("portal/notice.html", title=tr("请查收邮件", "Check your e-mail"),
                           message=tr("如果编号和邮箱与我们的记录一致,我们已把新的查询链接发送到该邮箱。",
                                      "If the reference and e-mail match our records, we have sent a new link to "
                                      "that address.")), 200


@bp.app_template_filter("portal_time")
def _portal_time(value, with_time: bool = True) -> str:
    """Customers read times in the company's zone (REDRESS_TIMEZONE, default Asia/Shanghai)."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        zone = utcnow().tzinfo
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M") if with_time else local.strftime("%Y-%m-%d")
