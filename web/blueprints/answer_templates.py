"""The response template library: supervisors and process designers write and change the
wording answers start from, with a preview on a sample complaint and a check of every
placeholder (processes/complaints/answer_templates.py holds the rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from processes.complaints import answer_templates as library
from processes.complaints.registration import CATEGORIES
from web.auth import roles_required
from web.context import actor, database
from web.i18n import ui_language

bp = Blueprint("answer_templates", __name__)
url_prefix = "/answer-templates"
EDITORS = tuple(sorted(library.EDITOR_ROLES))
FIELDS = ("title", "language", "category", "strategy", "body")


def _choices() -> dict:
    return {"languages": library.LANGUAGES, "categories": CATEGORIES, "strategies": library.STRATEGIES,
            "placeholders": [(name, words.get(ui_language(), words["en"]))
                             for name, words in library.PLACEHOLDERS.items()]}


def _sample(language: str, strategy: str | None) -> str:
    """The template filled for a made-up complaint, as a customer would read it."""
    remedy = {"compensation": "cash", "rule_based": "repair", "escalation": "replace"}.get(strategy or "", "refund")
    facts = library.AnswerFacts(name="李娜" if language == "zh-CN" else "Li Na", reference="C-2025-0001",
                                remedy=remedy, amount=239.9, deadline=datetime.now(UTC) + timedelta(days=15),
                                reply_by=datetime.now(UTC) + timedelta(days=7))
    return library.fill(request.form.get("body", ""), library.values_for(facts, language))


def _read_form() -> dict:
    fields = {name: request.form.get(name, "") for name in FIELDS}
    fields["active"] = request.form.get("active") == "on"
    return fields


@bp.get("/")
@roles_required(*EDITORS)
def index():
    with database().session() as s:
        # Chinese first ("zh-CN" sorts after "en").
        rows = list(s.scalars(select(library.ResponseTemplate).order_by(
            library.ResponseTemplate.language.desc(), library.ResponseTemplate.strategy, library.ResponseTemplate.category,
            library.ResponseTemplate.id)))
    return render_template("answer_templates/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    return _edit(None)


@bp.route("/<int:template_id>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(template_id: int):
    return _edit(template_id)


def _edit(template_id: int | None):
    if request.method == "GET":
        values = {"title": "", "language": ui_language(), "category": "", "strategy": "", "body": "", "active": True}
        if template_id is not None:
            with database().session() as s:
                row = s.get(library.ResponseTemplate, template_id)
                if row is None:
                    abort(404)
                values = {"title": row.title, "language": row.language, "category": row.category or "",
                          "strategy": row.strategy or "", "body": row.body, "active": row.active}
        return render_template("answer_templates/edit.html", template_id=template_id, values=values, errors={},
                               preview=None, **_choices())
    values = _read_form()
    errors = {name: _(message, **params) for name, (message, params) in library.field_errors(values).items()}
    if errors or request.form.get("action") == "preview":
        # Nothing is saved: the form comes back with what was typed, and the sample when it is sound.
        preview = None if errors else _sample(values["language"], values["strategy"] or None)
        return render_template("answer_templates/edit.html", template_id=template_id, values=values,
                               errors=errors, preview=preview, **_choices()), 422 if errors else 200
    with database().write_session.begin() as s:
        row = library.save(s, actor(), values, template_id)
        title = row.title
    flash(_("The template “%(title)s” is saved.", title=title), "success")
    return redirect(url_for("answer_templates.index"))
