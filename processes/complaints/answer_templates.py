"""The response template library: wording a person starts from when answering a customer.

A template belongs to a category (or any), a strategy (or any) and a language, and holds
placeholders in braces, `{name}`, `{reference}`, `{remedy}`, `{amount}`, `{deadline}`,
`{reply_by}`. The task that answers the customer opens the best match as a draft; the handler
edits it and previews it; `fill` resolves the placeholders with what the handler chose on the
form. Nothing here sends anything: the text that reaches the customer is the one a person
completed the task with.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from processes.complaints.money import format_money
from processes.complaints.registration import CATEGORIES
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.db import Base
from processes.engine.errors import N_, Forbidden
from processes.engine.models import TZDateTime, utcnow

LANGUAGES = ("zh-CN", "en")
# What the answer is for: the strategy the complaint follows, or the step of the ladder.
STRATEGIES = ("explanation", "rule_based", "compensation", "fuzzy_mediation", "escalation")
MAX_TITLE = 120
MAX_BODY = 5000
# Who keeps the library: customer service supervisors and the people who design the process.
EDITOR_ROLES = {"supervisor", "process_designer", "admin"}

# The placeholders a template may use, with what each becomes (shown in the editor).
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "name": {"zh-CN": "客户姓名", "en": "the customer's name"},
    "reference": {"zh-CN": "投诉编号", "en": "the complaint's reference"},
    "remedy": {"zh-CN": "补救措施(表单上选定的)", "en": "the remedy chosen on the form"},
    "amount": {"zh-CN": "金额(按客户语言格式化,如 ¥239.90)", "en": "the amount, formatted for the customer (CNY 239.90)"},
    "deadline": {"zh-CN": "处理时限", "en": "the date the complaint must be resolved by"},
    "reply_by": {"zh-CN": "客户答复期限", "en": "the date the customer is asked to answer by"},
}

REMEDY_WORDS: dict[str, dict[str, str]] = {
    "repair": {"zh-CN": "免费维修", "en": "a free repair"},
    "replace": {"zh-CN": "换货", "en": "a replacement"},
    "refund": {"zh-CN": "退款", "en": "a refund"},
    "explanation": {"zh-CN": "情况说明", "en": "an explanation"},
    "paid_service": {"zh-CN": "付费服务", "en": "a paid service"},
    "compensation": {"zh-CN": "经济补偿", "en": "compensation"},
    "settlement": {"zh-CN": "和解方案", "en": "a settlement"},
    "points": {"zh-CN": "积分补偿", "en": "loyalty points"},
    "coupon": {"zh-CN": "优惠券", "en": "a voucher"},
    "cash": {"zh-CN": "现金补偿", "en": "a cash payment"},
}


class ResponseTemplate(Base):
    """One wording in one language for a category (None: any) and a strategy (None: any)."""

    __tablename__ = "response_templates"
    __table_args__ = (Index("ix_response_templates_match", "language", "active", "strategy", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    category: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


# -- placeholders ---------------------------------------------------------------------


Problem = tuple[str, dict]  # an English N_ template and its parameters


def placeholder_problem(body: str) -> Problem | None:
    """Why the placeholders of `body` cannot be filled (unknown names, formats, a lone brace), or None."""
    try:
        parts = list(string.Formatter().parse(body))
    except ValueError:
        return N_("A brace is not closed or not opened: write {name}, or {{ and }} for a brace itself."), {}
    unknown: list[str] = []
    for _text, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            unknown.append("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    if unknown:
        return (N_("Unknown placeholder %(names)s. Use only %(known)s."),
                {"names": ", ".join(dict.fromkeys(unknown)), "known": " ".join(f"{{{n}}}" for n in PLACEHOLDERS)})
    return None


def fill(body: str, values: dict[str, str]) -> str:
    """The text with its placeholders resolved; call only on a body without a placeholder problem."""
    return body.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


@dataclass(frozen=True)
class AnswerFacts:
    """What the placeholders are filled from."""

    name: str | None
    reference: str
    remedy: str | None = None
    amount: object = None
    deadline: datetime | None = None
    reply_by: datetime | None = None


def values_for(facts: AnswerFacts, language: str) -> dict[str, str]:
    zh = language == "zh-CN"
    remedy = REMEDY_WORDS.get(facts.remedy or "", {}).get(language, facts.remedy or "")
    return {
        "name": facts.name or ("客户" if zh else "customer"),
        "reference": facts.reference,
        "remedy": remedy,
        "amount": "" if facts.amount in (None, "") else format_money(facts.amount, language),
        "deadline": facts.deadline.strftime("%Y-%m-%d") if facts.deadline else ("尽快" if zh else "as soon as we can"),
        "reply_by": facts.reply_by.strftime("%Y-%m-%d") if facts.reply_by else "",
    }


# -- the library ----------------------------------------------------------------------


def best_match(session: Session, category: str | None, strategy: str | None, language: str) -> ResponseTemplate | None:
    """The most specific active template: category and strategy, then strategy, then category, then any."""
    rows = session.scalars(select(ResponseTemplate).where(ResponseTemplate.language == language,
                                                          ResponseTemplate.active.is_(True))
                           .order_by(ResponseTemplate.id)).all()

    def rank(row: ResponseTemplate) -> int | None:
        if row.category not in (None, category) or row.strategy not in (None, strategy):
            return None
        return (row.strategy is not None) * 2 + (row.category is not None)

    ranked = [(rank(r), r.id, r) for r in rows if rank(r) is not None]
    return max(ranked, key=lambda item: (item[0], -item[1]))[2] if ranked else None


def field_errors(fields: dict[str, str]) -> dict[str, Problem]:
    """Problems by field name for a template's form; empty when it may be saved."""
    errors: dict[str, Problem] = {}
    title = (fields.get("title") or "").strip()
    body = fields.get("body") or ""
    if not title:
        errors["title"] = N_("Give the template a name."), {}
    elif len(title) > MAX_TITLE:
        errors["title"] = N_("At most %(limit)s characters."), {"limit": MAX_TITLE}
    if fields.get("language") not in LANGUAGES:
        errors["language"] = N_("Choose a language."), {}
    if (fields.get("category") or None) not in (None, *CATEGORIES):
        errors["category"] = N_("Choose a category."), {}
    if (fields.get("strategy") or None) not in (None, *STRATEGIES):
        errors["strategy"] = N_("Choose a strategy."), {}
    if not body.strip():
        errors["body"] = N_("Write the text of the template."), {}
    elif len(body) > MAX_BODY:
        errors["body"] = N_("At most %(limit)s characters."), {"limit": MAX_BODY}
    elif (problem := placeholder_problem(body)) is not None:
        errors["body"] = problem
    return errors


def save(session: Session, actor: Actor, fields: dict[str, str], template_id: int | None = None) -> ResponseTemplate:
    """Create or change a template (after `field_errors` found nothing); audited."""
    if actor.role not in EDITOR_ROLES:
        raise Forbidden(N_("Only supervisors and process designers may change response templates."))
    row = session.get(ResponseTemplate, template_id) if template_id else ResponseTemplate()
    if row is None:
        raise Forbidden(N_("This template does not exist."))
    before = None if template_id is None else {"title": row.title, "body": row.body, "active": row.active}
    row.title = fields["title"].strip()
    row.language = fields["language"]
    row.category = fields.get("category") or None
    row.strategy = fields.get("strategy") or None
    row.body = fields["body"]
    row.active = bool(fields.get("active", True))
    row.updated_by = actor.username
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit.append(session, actor.username, "response_template_saved",
                 detail={"template_id": row.id, "title": row.title, "language": row.language,
                         "category": row.category, "strategy": row.strategy, "before": before})
    return row
