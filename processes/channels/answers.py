"""Answers to the customer as a person writes them: the draft, the preview, the final text.

A task whose form has an answer field marked `"from_template": true` (x-ui) opens with the
best-matching template of the library, in the customer's language. The handler edits it; the
placeholders are filled from what the handler chose on the form (remedy, amount) and from the
complaint (name, reference, deadlines). The preview shows the very text that will be stored and
sent, as the tracking page and the e-mail will show it; completing the task stores that text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.channels import mail_templates, outbound_mail
from processes.channels.portal_models import customer_language
from processes.complaints import answer_templates as library
from processes.complaints.records import Complaint
from processes.engine.errors import N_

_INSTRUCTION = re.compile(r"\[[^\[\]\n]{2,300}\]")  # "[say what happens next]" in a template
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def answer_fields(schema: dict | None) -> dict[str, dict]:
    """The form's fields that hold an answer to the customer (name -> x-ui)."""
    out = {}
    for name, prop in ((schema or {}).get("properties") or {}).items():
        ui = prop.get("x-ui") or {}
        if ui.get("from_template") or ui.get("placeholders"):
            out[name] = ui
    return out


def _duration(text) -> timedelta | None:
    match = _DURATION.match(str(text or ""))
    if not match:
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


@dataclass(frozen=True)
class Preview:
    """What the customer gets: the text on the tracking page and the e-mail."""

    language: str
    text: str
    amount_line: str
    subject: str
    email: str


class AnswerDesk:
    """Drafts, fills and previews the answers of one task, on the caller's session."""

    def __init__(self, session: Session, reference: str, data: dict):
        self.session = session
        self.reference = reference
        self.data = data
        self.complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
        self.language = customer_language(session, reference)

    # -- the draft --------------------------------------------------------------------

    def template_for(self, ui: dict) -> library.ResponseTemplate | None:
        level = self.data.get("escalation_level") or 1
        strategy = ui.get("template_strategy") or ("escalation" if level > 1 else self.data.get("strategy"))
        category = self.data.get("category") or (self.complaint.category if self.complaint else None)
        return library.best_match(self.session, category, strategy, self.language)

    def drafts(self, schema: dict | None) -> dict[str, str]:
        """Initial text of the answer fields that start from a template (placeholders kept)."""
        out = {}
        for name, ui in answer_fields(schema).items():
            if not ui.get("from_template"):
                continue
            template = self.template_for(ui)
            if template is not None:
                out[name] = template.body
        return out

    # -- filling ----------------------------------------------------------------------

    def facts(self, submitted: dict, ui: dict | None = None) -> library.AnswerFacts:
        """What the placeholders become; `ui`: the answer field's x-ui, which may name the form's own
        amount field (`amount_field`: a mediation proposal's amount, not the compensation's)."""
        merged = {**self.data, **{k: v for k, v in submitted.items() if v not in (None, "")}}
        remedy = merged.get("remedy")
        if remedy in (None, "compensation") and merged.get("compensation_kind"):
            remedy = merged["compensation_kind"]
        amount_field = (ui or {}).get("amount_field")
        if amount_field:
            amount = submitted.get(amount_field) if amount_field in submitted else merged.get(amount_field)
        else:
            amount = merged.get("compensation_amount") or merged.get("proposal_amount") or None
        timeout = _duration((self.data.get("settings") or {}).get("response_timeout"))
        deadline = outbound_mail.resolve_deadline(self.complaint)
        reply_by = datetime.now(UTC) + timeout if timeout else None
        if reply_by is not None and deadline is not None:
            reply_by = reply_by.astimezone(deadline.tzinfo)  # a day of the same business calendar
        return library.AnswerFacts(
            name=self.complaint.customer_name if self.complaint else None, reference=self.reference,
            remedy=remedy, amount=amount, deadline=deadline, reply_by=reply_by)

    def fill(self, schema: dict | None, submitted: dict, final: bool = True) -> tuple[dict, dict[str, library.Problem]]:
        """The submitted data with each answer's placeholders filled; problems by field. A final
        answer (not a preview) must also have the template's bracketed instructions replaced."""
        data = dict(submitted)
        problems: dict[str, library.Problem] = {}
        for name, ui in answer_fields(schema).items():
            text = submitted.get(name)
            if not isinstance(text, str) or not text.strip():
                continue
            problem = library.placeholder_problem(text) or (self._instruction_left(ui, text) if final else None)
            if problem is not None:
                problems[name] = problem
            else:
                data[name] = library.fill(text, library.values_for(self.facts(submitted, ui), self.language)).strip()
        return data, problems

    def _instruction_left(self, ui: dict, text: str) -> library.Problem | None:
        """A template's bracketed instruction still in the text: the person has not written that part."""
        template = self.template_for(ui) if ui.get("from_template") else None
        for hint in _INSTRUCTION.findall(template.body if template else ""):
            if hint in text:
                return N_("Replace the template's instruction %(hint)s with your own words."), {"hint": hint}
        return None

    def preview(self, text: str, submitted: dict, ui: dict | None = None) -> Preview:
        """`text` (already filled) as the tracking page and the e-mail will show it: the e-mail of the
        field's `mail_template` (the answer's "response" unless it says otherwise), in the approved
        wording and with the company's signature, as the mailer renders it."""
        ui = ui or {}
        facts = self.facts(submitted, ui)
        amount = outbound_mail.amount_line(facts.amount, self.language)
        zh = self.language == "zh-CN"
        values = {"reference": self.reference, "name": facts.name or ("客户" if zh else "customer"), "text": text,
                  "amount": amount, "link": "[私人查询链接]" if zh else "[private tracking link]",
                  "subject": self.reference, "missing": "", "original": "",
                  # A proposal is sent after its task is done: the round it opens.
                  "round": int(self.data.get("mediation_round") or 0) + 1,
                  "deadline": outbound_mail.deadline_text(self.complaint, self.language)}
        subject, body = outbound_mail.render(ui.get("mail_template") or "response", self.language, values,
                                             mail_templates.in_force(self.session),
                                             outbound_mail.company_name(self.session))
        return Preview(language=self.language, text=text, amount_line=amount, subject=subject, email=body)
