"""The process designer: drafts, the BPMN/DMN modeler, the form editor, validation and test runs.

Pages are for process designers (and admins); reviewers may open a draft read-only.
The modeler saves through JSON endpoints (CSRF header) with the draft's version,
so a concurrent save by someone else is a conflict, never an overwrite.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from processes.complaints.settings import default_settings, describe_settings
from processes.engine.errors import Conflict, Forbidden, ValidationFailed
from processes.engine.models import ProcessDefinition
from processes.governance import drafts
from processes.governance.models import DefinitionDraft
from processes.governance.test_run import load_scenarios, run, scenario_label
from web.auth import roles_required
from web.context import actor, database, runtime
from web.errors import problem_message
from web.i18n import ui_language
from web.input_guard import json_body

# A draft carries its BPMN, DMN and form files as text: more than an API call needs.
DRAFT_JSON_BYTES = 10 * 1024 * 1024
bp = Blueprint("designer", __name__)
url_prefix = "/designer"

EDITORS = ("process_designer", "admin")
READERS = ("process_designer", "compliance_reviewer", "admin")
FILE_NAME = re.compile(r"^[\w\-. ]{1,120}$", re.UNICODE)



def active_versions(session) -> list[ProcessDefinition]:
    newest = (select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.process_key).subquery())
    return list(session.scalars(select(ProcessDefinition).join(
        newest, (ProcessDefinition.process_key == newest.c.process_key)
        & (ProcessDefinition.version == newest.c.version)).order_by(ProcessDefinition.process_key)))


@bp.get("/")
@roles_required(*READERS)
def index():
    with database().session() as s:
        active = active_versions(s)
        rows = s.scalars(select(DefinitionDraft).order_by(DefinitionDraft.updated_at.desc()).limit(200)).all()
    return render_template("designer/index.html", active=active, drafts=rows)


@bp.post("/copy")
@roles_required(*EDITORS)
def copy():
    process_key = request.form.get("process_key", "")
    with database().write_session.begin() as s:
        saved = drafts.copy_active(s, actor(), process_key)
        draft_id = saved.draft.id
    flash(_("A new draft was made from the active version."), "success")
    return redirect(url_for("designer.modeler", draft_id=draft_id))


def uploaded_files() -> dict[str, bytes]:
    """Files of a multipart request, keyed by a safe path: forms under forms/, the rest by name."""
    files: dict[str, bytes] = {}
    for field, storage in request.files.items(multi=True):
        name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            continue
        if not FILE_NAME.match(name) or name.startswith("."):
            raise ValidationFailed({name: "File names may use letters, digits, '-', '_' and '.' only."},
                                   "A file name is not allowed.")
        if name.endswith(".json") or field in ("form", "forms"):
            name = f"forms/{name}"
        files[name] = storage.read()
    return files


@bp.post("/upload")
@roles_required(*EDITORS)
def upload_new():
    files = uploaded_files()
    try:
        with database().write_session.begin() as s:
            saved = drafts.create(s, actor(), files, title=request.form.get("title", ""))
            draft_id = saved.draft.id
    except drafts.UploadRefused as exc:
        return render_template("designer/refused.html", report=exc.report.to_dict()), 422
    return redirect(url_for("designer.modeler", draft_id=draft_id))


def _draft_payload(draft: DefinitionDraft) -> dict:
    return {"id": draft.id, "title": draft.title, "process_key": draft.process_key, "status": draft.status,
            "author": draft.author, "version": draft.version, "files": draft.files, "report": draft.report,
            "change_note": draft.change_note, "base_definition_id": draft.base_definition_id,
            "deployed_definition_id": draft.deployed_definition_id}


@bp.get("/drafts/<int:draft_id>")
@roles_required(*READERS)
def modeler(draft_id: int):
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        payload = _draft_payload(draft)
        base = s.get(ProcessDefinition, draft.base_definition_id) if draft.base_definition_id else None
        siblings = [{"id": d.id, "title": d.title, "author": d.author, "status": d.status}
                    for d in drafts.pending_siblings(s, draft)] if draft.status in drafts.PENDING else []
        newer = drafts.newer_version(s, draft)
        newer_version = newer.version if newer else None
    from processes.engine.handlers import handler_names

    scenarios = [{"id": sc["id"], "label": scenario_label(sc, ui_language()), "process": sc.get("process"),
                  "json": json.dumps(sc, ensure_ascii=False, indent=2)} for sc in load_scenarios()]
    editable = payload["status"] in drafts.EDITABLE and actor().role in EDITORS
    config = {"draft": payload, "handlers": handler_names(), "editable": editable,
              "settings": describe_settings(), "scenarios": scenarios, "language": ui_language(),
              "urls": {"save": url_for("designer.save", draft_id=draft_id),
                       "test_run": url_for("designer.test_run", draft_id=draft_id)}}
    return render_template("designer/modeler.html", draft=payload, config=config, editable=editable,
                           base_version=base.version if base else None, siblings=siblings,
                           newer_version=newer_version)


@bp.post("/drafts/<int:draft_id>/rebase")
@roles_required(*EDITORS)
def rebase(draft_id: int):
    version = request.form.get("version", "")
    try:
        with database().write_session.begin() as s:
            rebased = drafts.rebase(s, actor(), draft_id, int(version) if version.isdigit() else -1)
            conflicts = rebased.conflicts
    except drafts.UploadRefused as exc:
        return render_template("designer/refused.html", report=exc.report.to_dict(), draft_id=draft_id), 422
    except Conflict as exc:
        flash(problem_message(exc), "error")
        return redirect(url_for("designer.modeler", draft_id=draft_id))
    if conflicts:
        flash(_("Rebased onto the newest version. These files were changed on both sides; the draft's text was "
                "kept, check them: %(files)s", files=", ".join(conflicts)), "warning")
    else:
        flash(_("Rebased onto the newest version; your changes were carried over."), "success")
    return redirect(url_for("designer.modeler", draft_id=draft_id))


@bp.post("/drafts/<int:draft_id>/discard")
@roles_required(*EDITORS)
def discard(draft_id: int):
    try:
        with database().write_session.begin() as s:
            drafts.discard(s, actor(), draft_id)
    except (Conflict, Forbidden) as exc:
        flash(problem_message(exc), "error")
        return redirect(url_for("designer.modeler", draft_id=draft_id))
    flash(_("The draft was discarded."), "info")
    return redirect(url_for("designer.index"))


@bp.post("/drafts/<int:draft_id>/save")
@roles_required(*EDITORS)
def save(draft_id: int):
    body = json_body(limit=DRAFT_JSON_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("files"), dict) or not isinstance(body.get("version"), int) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in body["files"].items()):
        abort(400, _("Send the files (name and text) and the version you edited."))
    try:
        with database().write_session.begin() as s:
            saved = drafts.save(s, actor(), draft_id, body["files"], body["version"], title=body.get("title"))
            return jsonify({"version": saved.draft.version, "report": saved.draft.report,
                            "status": saved.draft.status})
    except drafts.UploadRefused as exc:
        return jsonify({"error": problem_message(exc), "report": exc.report.to_dict()}), 422
    except Conflict as exc:
        return jsonify({"error": problem_message(exc), "conflict": True}), 409


@bp.post("/drafts/<int:draft_id>/upload")
@roles_required(*EDITORS)
def upload_into(draft_id: int):
    version = request.form.get("version", "")
    files = uploaded_files()
    with database().session() as s:
        existing = drafts.get(s, draft_id).files
    # An uploaded file replaces the draft's file of the same name, wherever it lives.
    by_name = {path.rsplit("/", 1)[-1]: path for path in existing}
    files = {by_name.get(name.rsplit("/", 1)[-1], name): content for name, content in files.items()}
    try:
        with database().write_session.begin() as s:
            drafts.save(s, actor(), draft_id, files, int(version) if version.isdigit() else -1, replace=False)
        flash(_("The files were uploaded and validated."), "success")
    except drafts.UploadRefused as exc:
        return render_template("designer/refused.html", report=exc.report.to_dict(), draft_id=draft_id), 422
    except Conflict as exc:
        flash(problem_message(exc), "error")
    return redirect(url_for("designer.modeler", draft_id=draft_id))


@bp.get("/drafts/<int:draft_id>/files/<path:path>")
@roles_required(*READERS)
def download(draft_id: int, path: str):
    with database().session() as s:
        files = drafts.get(s, draft_id).files
    if path not in files:
        abort(404)
    mimetype = "application/json" if path.endswith(".json") else "application/xml"
    return send_file(io.BytesIO(files[path].encode("utf-8")), mimetype=mimetype, as_attachment=True,
                     download_name=path.rsplit("/", 1)[-1])


@bp.get("/drafts/<int:draft_id>/download.zip")
@roles_required(*READERS)
def download_all(draft_id: int):
    with database().session() as s:
        draft = drafts.get(s, draft_id)
        files, name = dict(draft.files), f"{draft.process_key or 'draft'}-draft{draft.id}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(files.items()):
            archive.writestr(path, text)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.post("/drafts/<int:draft_id>/submit")
@roles_required(*EDITORS)
def submit(draft_id: int):
    note = request.form.get("change_note", "")
    try:
        with database().write_session.begin() as s:
            drafts.submit(s, actor(), draft_id, note)
    except drafts.ScenariosFailing as exc:
        language = ui_language()
        failing = "; ".join(f"{item['name'][language]}: {item['problems'][0][language]}" for item in exc.failing)
        flash(_("The draft cannot be submitted yet: ") + problem_message(exc) + " " + failing, "error")
        return redirect(url_for("designer.modeler", draft_id=draft_id, change_note=note))
    except ValidationFailed as exc:
        flash(_("The draft cannot be submitted yet: ") + problem_message(exc) + " "
              + " ".join(_(message) for message in exc.errors.values()), "error")
        return redirect(url_for("designer.modeler", draft_id=draft_id, change_note=note))
    flash(_("Submitted for review."), "success")
    return redirect(url_for("definitions.review", draft_id=draft_id))


@bp.post("/drafts/<int:draft_id>/test-run")
@roles_required(*READERS)
def test_run(draft_id: int):
    body = json_body(required=False, limit=DRAFT_JSON_BYTES)
    with database().session() as s:
        files = dict(drafts.get(s, draft_id).files)
    scenario = body.get("scenario")
    if isinstance(scenario, str):
        try:
            scenario = json.loads(scenario)
        except json.JSONDecodeError as exc:
            return jsonify({"error": _("The scenario is not valid JSON: ") + str(exc)}), 422
    if scenario is None and body.get("scenario_id"):
        scenario = next((sc for sc in load_scenarios() if sc["id"] == body["scenario_id"]), None)
    if not isinstance(scenario, dict):
        return jsonify({"error": _("Choose a scenario or paste one.")}), 422
    if not scenario.get("process"):
        with database().session() as s:
            scenario["process"] = drafts.get(s, draft_id).process_key
    # Real handlers run in a transaction that is always rolled back: nothing the run does is kept.
    session = database().write_session()
    session.begin()
    try:
        # the settings a complaint would start with now: the approved version in force
        result = run(files, scenario, settings={**default_settings(), **runtime().settings_in_force(session)[1]},
                     session=session)
    finally:
        session.rollback()
        session.close()
    body = result.to_dict()
    if result.limit == "time":
        body["error"] = _("A script ran longer than its limit of %(seconds)s seconds and was stopped.",
                          seconds=f"{result.limit_seconds:g}")
    elif result.limit:
        body["error"] = _("A script tried to build more than its limits allow (a huge number, text or list) "
                          "and was stopped.")
    return jsonify(body)
