"""Telling people about the figures: a KPI target's owner when it is missed (in the app and by
e-mail), and management's weekly digest with the headline figures and their change. Run by the
worker as periodic jobs (`processes.app.periodic_jobs`). Texts are Chinese first, then English."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from processes.channels.portal_models import OutboundMessage
from processes.complaints import analytics, analytics_targets
from processes.complaints.analytics import Filters, Period
from processes.complaints.analytics_rollup import calendar
from processes.complaints.records import Notification
from processes.engine.models import User, utcnow

log = logging.getLogger(__name__)
KPI_NAMES = {  # zh, en
    "sla_compliance": ("SLA 达标率", "SLA compliance"), "csat": ("满意度 (4-5 分)", "CSAT"),
    "resolution_rate": ("解决率", "Resolution rate"), "first_contact_rate": ("首次解决率", "First-contact resolution"),
    "survey_response_rate": ("回访应答率", "Survey response rate"), "reopen_rate": ("重开率", "Reopen rate"),
    "escalation_rate": ("升级率", "Escalation rate"), "resolve_minutes_median": ("解决时长中位数", "Time to resolve, median"),
    "resolve_minutes_p90": ("解决时长 p90", "Time to resolve, p90"), "ack_minutes_p90": ("受理时长 p90", "Time to acknowledge, p90"),
    "breached_open": ("已超时未结", "Open, past the limit"), "at_risk": ("即将超时", "Open and at risk"),
}
_COUNT_NAMES = {"received": ("受理", "Received"), "closed": ("结案", "Closed"), "open": ("未结", "Open"),
                "compensation_paid": ("已付补偿", "Compensation paid")}
DIGEST_ROLES = ("manager",)
DIGEST_FIGURES = ("received", "closed", "open", "sla_compliance", "csat", "breached_open", "compensation_paid")


def show(kpi: str, value) -> str:
    if value is None:
        return "—"
    kind = analytics_targets.KPIS.get(kpi, ("count",))[0]
    if kind == "rate" or kpi in ("sla_compliance", "csat"):
        return f"{float(value) * 100:.1f} %"
    if kind == "minutes":
        return f"{int(value)} min"
    return str(value)


def _send(session, user: User | None, recipient: str, template: str, subject: str, body: str, payload: dict,
          mail_status: str) -> None:
    note = Notification(recipient_type="user", recipient=recipient, template=template, subject=subject[:300],
                        body=body, payload=payload)
    session.add(note)
    session.flush()
    if user is not None and user.email:
        session.add(OutboundMessage(notification_id=note.id, template=template, language="zh-CN",
                                    to_address=user.email, subject=subject[:300], body=body, status=mail_status))


def check_targets(db, now: datetime | None = None, mail_status: str = "outbox") -> int:
    """Check every target; tell the owner of each that crossed. Returns the messages written."""
    with db.write_session.begin() as s:
        crossings = analytics_targets.check_all(s, now)
        for c in crossings:
            t = c.target
            zh, en = KPI_NAMES.get(t.kpi, (t.kpi, t.kpi))
            sign = "≥" if t.direction == "at_least" else "≤"
            target, value = show(t.kpi, t.target), show(t.kpi, c.value)
            scope_zh = f"（{t.department}）" if t.department else ""
            scope_en = f" ({t.department})" if t.department else ""
            if c.after == "missed":
                subject = f"指标未达标：{zh} {value}，目标 {sign} {target} / KPI target missed: {en} {value}"
                body = (f"{zh}{scope_zh}近 {t.days} 天为 {value}，未达到目标 {sign} {target}。\n"
                        f"{en}{scope_en} over the last {t.days} days is {value}, against a target of {sign} {target}.")
            else:
                subject = f"指标恢复达标：{zh} {value} / KPI target met again: {en} {value}"
                body = (f"{zh}{scope_zh}近 {t.days} 天为 {value}，已恢复达到目标 {sign} {target}。\n"
                        f"{en}{scope_en} over the last {t.days} days is {value}: the target {sign} {target} is met again.")
            user = s.scalar(select(User).where(User.username == t.owner))
            _send(s, user, t.owner, f"kpi_target_{c.after}", subject, body,
                  {"target_id": t.id, "kpi": t.kpi, "value": None if c.value is None else str(c.value)}, mail_status)
        if crossings:
            log.info("KPI targets: %d crossed", len(crossings))
        return len(crossings)


def weekly_digest(db, now: datetime | None = None, mail_status: str = "outbox") -> int:
    """On Mondays, once a week: last week's headline figures beside the week before, to managers."""
    now = now or utcnow()
    today = calendar().localize(now).date()
    if today.weekday() != 0:
        return 0
    week = Period(today - timedelta(days=7), today - timedelta(days=1))
    tag = week.start.isoformat()
    with db.write_session.begin() as s:
        sent = s.scalar(select(Notification.id).where(Notification.template == "kpi_weekly_digest",
                                                      Notification.business_key == f"digest-{tag}"))
        if sent is not None:
            return 0
        figures = analytics.kpis(s, week, Filters())
        cur, prev = figures["current"], figures["previous"]
        lines = []
        for key in DIGEST_FIGURES:
            zh, en = {**KPI_NAMES, **_COUNT_NAMES}[key]
            lines.append(f"{zh} / {en}: {show(key, cur.get(key))}（上周前 / week before: {show(key, prev.get(key))}）")
        subject = f"投诉周报 {week.start} 至 {week.end} / Weekly complaints digest {week.start} to {week.end}"
        body = "\n".join(lines)
        s.add(Notification(recipient_type="role", recipient="manager", template="kpi_weekly_digest",
                           business_key=f"digest-{tag}", subject=subject, body=body,
                           payload={"from": week.start.isoformat(), "to": week.end.isoformat()}))
        count = 0
        for user in s.scalars(select(User).where(User.role.in_(DIGEST_ROLES), User.active.is_(True),
                                                 User.email.is_not(None))):
            s.add(OutboundMessage(template="kpi_weekly_digest", language="zh-CN", to_address=user.email,
                                  subject=subject[:300], body=body, status=mail_status))
            count += 1
        return count
