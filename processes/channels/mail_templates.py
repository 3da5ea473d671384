"""The customer e-mails' wording, per template and language, changed through the review like the
process settings (they reach customers): an administrator edits a subject and body, sees a preview
filled with sample values, and every {placeholder} must be one the template is given. The approved
version (config_versions, kind "mail_templates") is what outbound_mail renders from then on.

Values are flat: "response.zh-CN.subject", "response.zh-CN.body", ..."""

from __future__ import annotations

from string import Formatter
from typing import Any

from sqlalchemy.orm import Session

from processes.complaints import config_versions
from processes.engine.errors import N_

KIND = "mail_templates"
LANGUAGES = ("zh-CN", "en")
SUBJECT_LIMIT = 200
BODY_LIMIT = 5000
# What every notification e-mail is given (outbound_mail._values); a new tracking link knows less.
NOTIFICATION_VALUES = ("name", "reference", "link", "subject", "text", "amount", "round", "missing", "deadline",
                       "original")
ALLOWED = {"tracking_link": ("name", "reference", "link")}
SAMPLE = {
    "zh-CN": {"name": "王芳", "reference": "TS-20261203-7K3QX", "link": "https://example.cn/portal/track/TS-20261203-7K3QX/…",
              "subject": "电水壶底座漏电", "text": "我们为您更换一台新的电水壶。", "amount": "金额:¥239.90\n",
              "round": 1, "missing": "- 订单号", "deadline": "2026-12-10", "original": "TS-20261120-9Q2RX"},
    "en": {"name": "Fang Wang", "reference": "TS-20261203-7K3QX", "link": "https://example.cn/portal/track/TS-20261203-7K3QX/…",
           "subject": "Kettle base leaks", "text": "We will replace the kettle with a new one.",
           "amount": "Amount: CNY 239.90\n", "round": 1, "missing": "- order number", "deadline": "2026-12-10",
           "original": "TS-20261120-9Q2RX"},
}
Problem = tuple[str, dict]

# The shipped wording: template -> language -> (subject, body).
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "acknowledgement": {
        "zh-CN": ("投诉已受理:{reference}",
                  ("{name}您好:\n\n我们已收到您的投诉,编号 {reference}。我们会在 {deadline} 前给您答复。\n"
                  "您可以随时通过以下私人链接查看处理进度并回复我们(请勿转发):\n{link}\n")),
        "en": ("Complaint received: {reference}",
               ("Dear {name},\n\nWe have received your complaint, reference {reference}. "
               "We will answer by {deadline}.\nFollow its progress and reply to us at any time through "
               "this private link (please do not share it):\n{link}\n")),
    },
    "request_details": {
        "zh-CN": ("请补充投诉信息:{reference}",
                  ("{name}您好:\n\n为了处理您的投诉 {reference},我们还需要以下信息:\n{missing}\n"
                  "请通过以下链接补充:\n{link}\n")),
        "en": ("Please complete your complaint {reference}",
               ("Dear {name},\n\nTo handle your complaint {reference} we still need:\n{missing}\n"
               "Please add them here:\n{link}\n")),
    },
    "mediation_proposal": {
        "zh-CN": ("调解方案:{reference}",
                  ("{name}您好:\n\n关于您的投诉 {reference},我们提出以下调解方案(第 {round} 轮):\n\n{text}\n{amount}\n"
                  "请通过以下链接接受、拒绝或提出您的方案:\n{link}\n")),
        "en": ("Mediation proposal for {reference}",
               ("Dear {name},\n\nFor your complaint {reference} we propose (round {round}):\n\n{text}\n{amount}\n"
               "Accept it, reject it or make a counter-proposal here:\n{link}\n")),
    },
    "response": {
        # The answer is a person's whole letter (greeting included), sent as they previewed it.
        "zh-CN": ("投诉处理结果:{reference}",
                  "{text}\n{amount}\n请通过以下链接告诉我们您是否接受:\n{link}\n"),
        "en": ("The result of your complaint {reference}",
               "{text}\n{amount}\nPlease tell us whether you accept it:\n{link}\n"),
    },
    "survey": {
        "zh-CN": ("满意度调查:{reference}",
                  "{name}您好:\n\n您的投诉 {reference} 已处理完毕。请花一分钟告诉我们您是否满意:\n{link}\n"),
        "en": ("How did we do? {reference}",
               ("Dear {name},\n\nYour complaint {reference} has been resolved. Please take a minute to tell us "
               "how satisfied you are:\n{link}\n")),
    },
}
TEMPLATES["duplicate_closed"] = {
    "zh-CN": ("投诉已并入 {original} 处理:{reference}",
              ("{name}您好:\n\n经核实,您的投诉 {reference} 与您此前的投诉 {original} 是同一事项。"
               "我们将在投诉 {original} 中一并处理,请通过该编号跟进,无需重复投诉。\n{link}\n")),
    "en": ("Complaint {reference} is handled under {original}",
           ("Dear {name},\n\nYour complaint {reference} is about the same matter as your earlier complaint "
            "{original}. We handle both under {original}; please follow that one, there is no need to complain "
            "twice.\n{link}\n")),
}
TEMPLATES["tracking_link"] = {
    "zh-CN": ("您的投诉查询链接:{reference}",
              "{name}您好:\n\n这是您的投诉 {reference} 的新查询链接(请勿转发):\n{link}\n"),
    "en": ("Your link to complaint {reference}",
           "Dear {name},\n\nHere is a new private link to your complaint {reference} (please do not share it):\n{link}\n"),
}


def _shipped() -> dict[str, dict[str, tuple[str, str]]]:
    return TEMPLATES


def templates() -> list[str]:
    return list(_shipped())


def allowed(template: str) -> tuple[str, ...]:
    return ALLOWED.get(template, NOTIFICATION_VALUES)


def defaults() -> dict[str, str]:
    out = {}
    for template, languages in _shipped().items():
        for language in LANGUAGES:
            subject, body = languages[language]
            out[f"{template}.{language}.subject"], out[f"{template}.{language}.body"] = subject, body
    return out


def placeholders(text: str) -> list[str]:
    """The {names} in a text; ValueError when a brace is unbalanced or a placeholder is not a plain name."""
    names = []
    for _literal, field, spec, conversion in Formatter().parse(text):
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise ValueError(field)
        names.append(field)
    return names


def check(values: dict[str, Any]) -> tuple[dict[str, str], dict[str, Problem]]:
    shipped = defaults()
    problems: dict[str, Problem] = {}
    cleaned: dict[str, str] = {}
    for key in values:
        if key not in shipped:
            problems[key[:80]] = (N_("There is no e-mail template of this name."), {})
    for key in shipped:
        text = values.get(key)
        template, _language, part = key.split(".")
        limit = SUBJECT_LIMIT if part == "subject" else BODY_LIMIT
        if not isinstance(text, str) or not text.strip():
            problems[key] = (N_("This text cannot be empty."), {})
            continue
        text = text.replace("\r\n", "\n")
        if len(text) > limit:
            problems[key] = (N_("At most %(limit)s characters."), {"limit": limit})
            continue
        try:
            names = placeholders(text)
        except ValueError:
            problems[key] = (N_("Write placeholders as {name}; to show a brace itself, double it: {{ or }}."), {})
            continue
        unknown = [n for n in names if n not in allowed(template)]
        if unknown:
            problems[key] = (N_("Unknown placeholder {%(name)s}. This e-mail knows: %(known)s."),
                             {"name": unknown[0], "known": ", ".join("{" + n + "}" for n in allowed(template))})
            continue
        if part == "body" and "link" not in names:
            problems[key] = (N_("The body must contain {link}: the customer's private link to the complaint."), {})
            continue
        cleaned[key] = text.strip() if part == "subject" else text
    return cleaned, problems


def preview(values: dict[str, str], template: str, language: str) -> tuple[str, str] | None:
    """The e-mail as a customer would get it, with sample values; None when the texts do not check."""
    try:
        subject = values[f"{template}.{language}.subject"].format(**SAMPLE[language])
        body = values[f"{template}.{language}.body"].format(**SAMPLE[language])
    except (KeyError, ValueError, IndexError, AttributeError):
        return None
    return subject, body


def in_force(session: Session) -> dict[str, str]:
    """The approved wording over the shipped one (flat keys)."""
    _version, values = config_versions.in_force(session, KIND)
    return values
