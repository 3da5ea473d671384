"""Compliance review of process definitions: diff, approve or reject, history, review record,
instance migration; and the definitions API under /api/v1/definitions.

Process designers edit and submit, compliance reviewers approve and reject, admins do
both; nobody approves their own draft. Everyone else gets 403.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from processes.engine import definitions as versions_store
from processes.engine.errors import N_, Forbidden, NotFound, RuntimeProblem, ValidationFailed
from processes.engine.models import ProcessDefinition
from processes.governance import drafts
from processes.governance import migration as instance_migration
from processes.governance.models import DefinitionDraft, DraftReview, MigrationBatch
from processes.governance.spec_diff import diff_definitions, raw_diff
from web.auth import authenticate_api_request, roles_required
from web.context import actor, database, runtime
from web.errors import problem_message
from web.input_guard import json_body as read_json
from web.openapi import error_responses, json_body, ok, register_paths
from web.security import csrf

bp = Blueprint("definitions", __name__)

READERS = ("process_designer", "compliance_reviewer", "admin")



REVIEWERS = ("compliance_reviewer", "admin")
EDITORS = ("process_designer", "admin")


# -- shared --------------------------------------------------------------------


def diff_for(session, draft: DefinitionDraft, against_id: int | None = None) -> tuple[dict, dict, ProcessDefinition | None]:
    """(semantic diff, raw diff, the version compared against): the active version unless told otherwise."""
    if against_id is not None:
        against = session.get(ProcessDefinition, against_id)
        if against is None:
            raise NotFound(N_("Process version %(against_id)s does not exist."), against_id=against_id)
    elif draft.deployed_definition_id:
        # An approved draft is compared with what it replaced.
        review = session.scalars(select(DraftReview).where(DraftReview.draft_id == draft.id,
                                                           DraftReview.decision == "approved")).first()
        against = session.get(ProcessDefinition, review.against_definition_id) if review and \
            review.against_definition_id else None
    else:
        against = versions_store.latest(session, draft.process_key) if draft.process_key else None
    old_files = dict(against.files) if against else {}
    return diff_definitions(old_files, draft.files), raw_diff(old_files, draft.files), against


def _reviews(session, draft_id: int) -> list[DraftReview]:
    return list(session.scalars(select(DraftReview).where(DraftReview.draft_id == draft_id).order_by(DraftReview.id)))


# -- pages ---------------------------------------------------------------------


@bp.get("/definitions/")
@roles_required(*READERS)
def index():
    from web.blueprints.designer import active_versions

    with database().session() as s:
        waiting = s.scalars(select(DefinitionDraft).where(DefinitionDraft.status == "submitted")
                            .order_by(DefinitionDraft.submitted_at)).all()
        active = active_versions(s)
    return render_template("designer/definitions.html", waiting=waiting, active=active)


@bp.get("/definitions/review/<int:draft_id>")
@roles_required(*READERS)
def review(draft_id: int):
    against_id = request.args.get("against", type=int)
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        diff, raw, against = diff_for(s, draft, against_id)
        reviews = _reviews(s, draft_id)
        older = s.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == draft.process_key)
                          .order_by(ProcessDefinition.version.desc())).all() if draft.process_key else []
        diagrams = _diagram_pairs(against.files if against else {}, draft.files)
        return render_template("designer/review.html", draft=draft, diff=diff, raw=raw, against=against,
                               reviews=reviews, versions=older, diagrams=diagrams,
                               may_decide=current_user.role in REVIEWERS and draft.status == "submitted"
                               and draft.author != current_user.username
                               and current_user.username not in (draft.editors or []))


def _diagram_pairs(old: dict, new: dict) -> list[dict]:
    return [{"file": name, "old": old.get(name), "new": new.get(name)}
            for name in sorted(set(old) | set(new)) if name.endswith(".bpmn") and old.get(name) != new.get(name)]


@bp.post("/definitions/review/<int:draft_id>/approve")
@roles_required(*REVIEWERS)
def approve(draft_id: int):
    try:
        definition = drafts.approve(runtime(), actor(), draft_id, request.form.get("comment", ""))
    except Forbidden as exc:
        flash(problem_message(exc), "error")
        return redirect(url_for("definitions.review", draft_id=draft_id))
    flash(_("Approved and deployed as version %(version)s.", version=definition.version), "success")
    return redirect(url_for("definitions.history", process_key=definition.process_key))


@bp.post("/definitions/review/<int:draft_id>/reject")
@roles_required(*REVIEWERS)
def reject(draft_id: int):
    try:
        drafts.reject(database(), actor(), draft_id, request.form.get("comment", ""))
    except (Forbidden, ValidationFailed) as exc:
        flash(problem_message(exc) + " " + " ".join(_(m) for m in getattr(exc, "errors", {}).values()), "error")
        return redirect(url_for("definitions.review", draft_id=draft_id))
    flash(_("Rejected; the author can revise the draft."), "info")
    return redirect(url_for("definitions.index"))


@bp.get("/definitions/<process_key>/history")
@roles_required(*READERS)
def history(process_key: str):
    with database().session() as s:
        rows = drafts.versions(s, process_key)
        if not rows:
            raise NotFound(_("No process %(process_key)s is deployed.", process_key=process_key))
        entries = drafts.history(s, process_key)
        batches = s.scalars(select(MigrationBatch).where(MigrationBatch.process_key == process_key)
                            .order_by(MigrationBatch.id.desc())).all()
        return render_template("designer/history.html", process_key=process_key, rows=rows, entries=entries,
                               batches=batches)


@bp.get("/definitions/review/<int:draft_id>/record")
@roles_required(*READERS)
def record(draft_id: int):
    """The printable review record for auditors (print to PDF from the browser)."""
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        diff, _raw, against = diff_for(s, draft)
        reviews = _reviews(s, draft_id)
        deployed = s.get(ProcessDefinition, draft.deployed_definition_id) if draft.deployed_definition_id else None
        entries = [e for e in drafts.history(s, draft.process_key) if (e.detail or {}).get("draft_id") == draft_id]
        diagrams = _diagram_pairs(against.files if against else {}, draft.files)
        return render_template("designer/record.html", draft=draft, diff=diff, against=against, reviews=reviews,
                               deployed=deployed, entries=entries, diagrams=diagrams)


@bp.get("/definitions/versions/<int:definition_id>/migrate")
@roles_required(*READERS)
def migration(definition_id: int):
    with database().session() as s:
        target = s.get(ProcessDefinition, definition_id)
        if target is None:
            raise NotFound(_("This process version does not exist."))
        key, version = target.process_key, target.version
    assessments = instance_migration.check(runtime(), definition_id)
    return render_template("designer/migrate.html", definition_id=definition_id, process_key=key, version=version,
                           assessments=assessments,
                           may_migrate=current_user.role in instance_migration.MIGRATORS)


@bp.post("/definitions/versions/<int:definition_id>/migrate")
@roles_required(*REVIEWERS)
def migrate(definition_id: int):
    chosen = [int(v) for v in request.form.getlist("instance_id") if v.isdigit()]
    if not chosen:
        flash(_("Choose at least one instance to migrate."), "error")
        return redirect(url_for("definitions.migration", definition_id=definition_id))
    batch = instance_migration.migrate(runtime(), actor(), definition_id, chosen)
    return render_template("designer/migrated.html", batch=batch)


@bp.post("/definitions/migrations/<int:batch_id>/undo")
@roles_required(*REVIEWERS)
def undo(batch_id: int):
    report = instance_migration.undo(runtime(), actor(), batch_id)
    restored, refused = len(report["restored"]), len(report["refused"])
    flash(_("Undo: %(restored)s restored, %(refused)s could not be moved back.", restored=restored, refused=refused),
          "info" if not refused else "warning")
    with database().session() as s:
        key = s.get(MigrationBatch, batch_id).process_key
    return redirect(url_for("definitions.history", process_key=key))


# -- API -----------------------------------------------------------------------


def api(*roles: str):
    """A JSON endpoint: bearer token or session (+ CSRF header for unsafe methods), and these roles."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            refused = authenticate_api_request()
            if refused is not None:
                return refused
            if actor().role not in roles:
                return jsonify({"error": "Your role does not allow this."}), 403
            return view(*args, **kwargs)

        csrf.exempt(wrapped)
        return wrapped

    return decorate


def _json() -> dict:
    body = read_json(required=False) if request.is_json else (request.form.to_dict() if request.form else {})
    if not isinstance(body, dict):
        abort(400, "The request body must be a JSON object.")
    return body


def draft_json(draft: DefinitionDraft, with_files: bool = False) -> dict:
    body = {"id": draft.id, "process_key": draft.process_key, "title": draft.title, "status": draft.status,
            "author": draft.author, "version": draft.version, "change_note": draft.change_note,
            "files": sorted(draft.files), "report": draft.report,
            "deployed_definition_id": draft.deployed_definition_id}
    if with_files:
        body["contents"] = draft.files
    return body


@bp.post("/api/v1/definitions")
@api(*EDITORS)
def api_create():
    from web.blueprints.designer import uploaded_files

    try:
        files = uploaded_files()
        with database().write_session.begin() as s:
            saved = drafts.create(s, actor(), files, title=request.form.get("title", ""), refuse_errors=True)
            return jsonify({"draft": draft_json(saved.draft), "report": saved.report.to_dict()}), 201
    except drafts.UploadRefused as exc:
        return jsonify({"error": problem_message(exc), "report": exc.report.to_dict()}), 422


@bp.get("/api/v1/definitions/<int:draft_id>")
@api(*READERS)
def api_get(draft_id: int):
    with database().session() as s:
        return jsonify(draft_json(drafts.get(s, draft_id), with_files=True))


@bp.post("/api/v1/definitions/<int:draft_id>/submit")
@api(*EDITORS)
def api_submit(draft_id: int):
    try:
        with database().write_session.begin() as s:
            draft = drafts.submit(s, actor(), draft_id, str(_json().get("change_note", "")))
            return jsonify(draft_json(draft))
    except ValidationFailed as exc:
        with database().session() as s:
            report = drafts.get(s, draft_id).report
        body = {"error": problem_message(exc), "errors": exc.errors, "report": report}
        if isinstance(exc, drafts.ScenariosFailing):
            body["scenarios"] = exc.failing
        return jsonify(body), 422


@bp.post("/api/v1/definitions/<int:draft_id>/approve")
@api(*REVIEWERS)
def api_approve(draft_id: int):
    definition = drafts.approve(runtime(), actor(), draft_id, str(_json().get("comment", "")))
    with database().session() as s:
        return jsonify({"draft": draft_json(drafts.get(s, draft_id)),
                        "definition": {"id": definition.id, "process_key": definition.process_key,
                                       "version": definition.version, "sha256": definition.sha256}})


@bp.post("/api/v1/definitions/<int:draft_id>/reject")
@api(*REVIEWERS)
def api_reject(draft_id: int):
    drafts.reject(database(), actor(), draft_id, str(_json().get("comment", "")))
    with database().session() as s:
        return jsonify(draft_json(drafts.get(s, draft_id)))


@bp.get("/api/v1/definitions/<int:draft_id>/diff")
@api(*READERS)
def api_diff(draft_id: int):
    against = request.args.get("against")
    if against is not None and not against.isdigit():
        abort(400, "against must be the id of a deployed process version.")
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        diff, raw, base = diff_for(s, draft, int(against) if against else None)
        diff["against"] = {"id": base.id, "version": base.version, "process_key": base.process_key} if base else None
        if request.args.get("raw") in ("1", "true"):
            diff["raw"] = raw
        return jsonify(diff)


@bp.post("/api/v1/definitions/<int:draft_id>/migrate")
@api(*READERS)
def api_migrate(draft_id: int):
    body = _json()
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        target = draft.deployed_definition_id
    if target is None:
        raise RuntimeProblem(N_("This draft is not deployed yet; approve it first."))
    ids = body.get("instance_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        abort(400, "instance_ids must be a list of instance ids.")
    if body.get("dry_run"):
        return jsonify({"definition_id": target,
                        "instances": [a.to_dict() for a in instance_migration.check(runtime(), target, ids)]})
    batch = instance_migration.migrate(runtime(), actor(), target, ids)
    return jsonify({"batch_id": batch.id, "definition_id": target, **batch.report})


DRAFT = {"type": "object", "required": ["id", "status", "author", "version", "report"],
         "properties": {"id": {"type": "integer"}, "process_key": {"type": ["string", "null"]},
                        "status": {"type": "string", "enum": ["draft", "submitted", "approved", "rejected"]},
                        "author": {"type": "string"}, "version": {"type": "integer"},
                        "change_note": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}},
                        "report": {"$ref": "#/components/schemas/ValidationReport"},
                        "deployed_definition_id": {"type": ["integer", "null"]}}}
REPORT = {"type": "object", "required": ["ok", "errors", "warnings", "findings"],
          "properties": {"ok": {"type": "boolean"}, "errors": {"type": "integer"}, "warnings": {"type": "integer"},
                         "process_ids": {"type": "array", "items": {"type": "string"}},
                         "findings": {"type": "array", "items": {"type": "object", "properties": {
                             "severity": {"type": "string", "enum": ["error", "warning"]},
                             "code": {"type": "string"}, "file": {"type": ["string", "null"]},
                             "element_id": {"type": ["string", "null"]}, "line": {"type": ["integer", "null"]},
                             "message": {"type": "object", "properties": {"zh-CN": {"type": "string"},
                                                                          "en": {"type": "string"}}}}}}}}
REFUSED = {"type": "object", "required": ["error", "report"],
           "properties": {"error": {"type": "string"}, "report": {"$ref": "#/components/schemas/ValidationReport"}}}
DRAFT_ID = {"name": "draft_id", "in": "path", "required": True, "schema": {"type": "integer"}}

register_paths(
    {
        "/definitions": {"post": {
            "summary": "Upload BPMN, DMN and form files as a new draft (process designer, admin)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "properties": {
                    "bpmn": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "dmn": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "form": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "title": {"type": "string"}}}}}},
            "responses": {**ok("The draft and its validation report", {"type": "object", "properties": {
                "draft": {"$ref": "#/components/schemas/Draft"},
                "report": {"$ref": "#/components/schemas/ValidationReport"}}}, 201),
                "422": {"description": "Validation errors; nothing was stored",
                        "content": {"application/json": {"schema": REFUSED}}},
                **error_responses(400, 401, 403)},
        }},
        "/definitions/{draft_id}": {"get": {
            "summary": "A draft with its files", "parameters": [DRAFT_ID],
            "responses": {**ok("The draft", {"$ref": "#/components/schemas/Draft"}), **error_responses(401, 403, 404)},
        }},
        "/definitions/{draft_id}/submit": {"post": {
            "summary": "Submit a draft for review with a change note (process designer, admin)",
            "parameters": [DRAFT_ID],
            "requestBody": json_body({"type": "object", "required": ["change_note"],
                                      "properties": {"change_note": {"type": "string"}}}),
            "responses": {**ok("Submitted", {"$ref": "#/components/schemas/Draft"}),
                          **error_responses(401, 403, 404, 409, 422)},
        }},
        "/definitions/{draft_id}/approve": {"post": {
            "summary": "Approve and deploy a submitted draft (compliance reviewer, admin; never its author)",
            "parameters": [DRAFT_ID],
            "requestBody": json_body({"type": "object", "properties": {"comment": {"type": "string"}}}, False),
            "responses": {**ok("Approved; the deployed version", {"type": "object", "properties": {
                "draft": {"$ref": "#/components/schemas/Draft"},
                "definition": {"type": "object", "properties": {"id": {"type": "integer"},
                                                                "version": {"type": "integer"},
                                                                "sha256": {"type": "string"}}}}}),
                **error_responses(401, 403, 404, 409, 422)},
        }},
        "/definitions/{draft_id}/reject": {"post": {
            "summary": "Reject a submitted draft with a comment (compliance reviewer, admin; never its author)",
            "parameters": [DRAFT_ID],
            "requestBody": json_body({"type": "object", "required": ["comment"],
                                      "properties": {"comment": {"type": "string"}}}),
            "responses": {**ok("Rejected", {"$ref": "#/components/schemas/Draft"}),
                          **error_responses(401, 403, 404, 409, 422)},
        }},
        "/definitions/{draft_id}/diff": {"get": {
            "summary": "The semantic diff of a draft against a deployed version (default: the active one)",
            "parameters": [DRAFT_ID, {"name": "against", "in": "query", "schema": {"type": "integer"}},
                           {"name": "raw", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {**ok("Elements, decision rules and form fields added, removed and changed",
                               {"type": "object", "properties": {
                                   "elements": {"type": "object"}, "decisions": {"type": "array"},
                                   "forms": {"type": "object"}, "files": {"type": "object"},
                                   "summary": {"type": "object"}, "empty": {"type": "boolean"}}}),
                          **error_responses(400, 401, 403, 404)},
        }},
        "/definitions/{draft_id}/migrate": {"post": {
            "summary": "Move running instances of older versions to this draft's deployed version "
                       "(dry_run: only check; migrating needs compliance reviewer or admin)",
            "parameters": [DRAFT_ID],
            "requestBody": json_body({"type": "object", "properties": {
                "instance_ids": {"type": "array", "items": {"type": "integer"}},
                "dry_run": {"type": "boolean"}}}, False),
            "responses": {**ok("What moved and what could not, and why", {"type": "object"}),
                          **error_responses(400, 401, 403, 404)},
        }},
    },
    {"Draft": DRAFT, "ValidationReport": REPORT},
)
