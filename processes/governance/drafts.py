"""Definition drafts: save, submit, approve (four eyes) or reject, and deploy on approval.

Views and the API call these functions; each takes the database and the acting
person and runs one unit of work. Every step is written to the audit log under
the business key `process:<process_key>`, so a definition's history is one query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from processes.complaints import config_versions
from processes.complaints.settings import default_settings
from processes.engine import audit, definitions
from processes.engine.actors import Actor
from processes.engine.errors import N_, Conflict, DefinitionError, Forbidden, NotFound, ValidationFailed
from processes.engine.models import AuditEntry, ProcessDefinition, User, utcnow
from processes.engine.xmlsafe import decode_xml
from processes.governance.models import DefinitionDraft, DraftReview
from processes.governance.test_run import run_suite
from processes.governance.validation import Report, validate

DESIGNERS = frozenset({"process_designer", "admin"})
REVIEWERS = frozenset({"compliance_reviewer", "admin"})
EDITABLE = ("draft", "rejected")
PENDING = ("draft", "submitted", "rejected")
# File-level problems: such an upload is refused as a whole and nothing changes.
REFUSING_CODES = frozenset({"unsafe_xml", "not_well_formed", "too_large", "unknown_kind", "bad_path",
                            "too_many_files", "empty", "not_bpmn", "not_dmn", "form_json", "encoding"})


class ScenariosFailing(ValidationFailed):
    """The draft's test runs do not do what their scenarios say; `failing`: their summaries."""

    def __init__(self, failing: list[dict]):
        errors = {f"scenario:{item['id']}": item["problems"][0]["en"] for item in failing}
        super().__init__(errors, N_("%(count)s test runs of this draft fail; fix the draft before submitting."),
                         count=len(failing))
        self.failing = failing


def checked_report(session: Session, files: dict[str, str], report: Report) -> dict:
    """The validation report plus the scenario suite's results, as stored on the draft.
    The suite runs only on a definition the engine can read (no validation errors)."""
    stored = report.to_dict()
    settings = {**default_settings(), **config_versions.in_force(session, "settings")[1]}  # the approved ones
    stored["scenarios"] = run_suite(files, report.process_ids, settings, session) if report.ok else []
    return stored


def failing_scenarios(stored_report: dict | None) -> list[dict]:
    return [item for item in (stored_report or {}).get("scenarios") or [] if not item.get("passed")]


class UploadRefused(ValidationFailed):
    """Files that cannot be stored at all (hostile, broken or of an unknown kind)."""

    def __init__(self, report: Report):
        errors = {f"{f.file or '-'}:{f.element_id or f.code}": f.message["en"] for f in report.errors}
        super().__init__(errors, "The upload was refused; nothing was changed.")
        self.report = report


def history_key(process_key: str | None) -> str:
    return f"process:{process_key or 'unknown'}"


# What a role may not do, as the person refused reads it (templates for the catalog).
REFUSALS = {
    "edit": N_("Your role may not edit process definitions."),
    "submit": N_("Your role may not submit process definitions."),
    "review": N_("Your role may not approve or reject process definitions."),
}


def require(actor: Actor, roles: frozenset[str], what: str) -> None:
    """Refuse unless the actor's role is one of `roles`; `what` names the act (REFUSALS)."""
    if actor.role not in roles:
        raise Forbidden(REFUSALS[what])


def refusal(report: Report) -> bool:
    return any(f.code in REFUSING_CODES for f in report.errors)


def main_process(report: Report, files: dict[str, str]) -> str | None:
    return report.process_ids[0] if report.process_ids else None


@dataclass
class Saved:
    draft: DefinitionDraft
    report: Report


def clean_files(files: dict[str, str | bytes]) -> dict[str, str]:
    """The files as text. XML is decoded by its own declaration (validation has refused what cannot be),
    and its declaration then says UTF-8, the encoding everything downstream uses; never a U+FFFD."""
    cleaned = {}
    for name, content in files.items():
        if name.lower().endswith((".bpmn", ".dmn")):
            content = decode_xml(content, name)
        elif isinstance(content, bytes):
            content = content.decode("utf-8-sig")
        cleaned[name] = content
    return cleaned


def create(session: Session, actor: Actor, files: dict[str, str | bytes], title: str = "",
           base_definition_id: int | None = None, refuse_errors: bool = False,
           process_key: str | None = None) -> Saved:
    """A new draft of these files. Refused (nothing stored) when a file is hostile or broken,
    or, with `refuse_errors`, when the report has any error (the API's 422)."""
    require(actor, DESIGNERS, "edit")
    report = validate(files)
    if refusal(report) or (refuse_errors and not report.ok):
        raise UploadRefused(report)
    files = clean_files(files)
    if process_key not in report.process_ids:
        process_key = main_process(report, files)
    draft = DefinitionDraft(title=title or process_key or "", process_key=process_key, files=files,
                            author=actor.username, editors=[actor.username], status="draft",
                            report=checked_report(session, files, report), base_definition_id=base_definition_id)
    session.add(draft)
    session.flush()
    audit.append(session, actor.username, "draft_saved", business_key=history_key(process_key),
                 detail={"draft_id": draft.id, "files": sorted(files), "errors": len(report.errors),
                         "warnings": len(report.warnings)})
    return Saved(draft, report)


def copy_active(session: Session, actor: Actor, process_key: str) -> Saved:
    """Start a draft from a copy of the active (latest deployed) version."""
    require(actor, DESIGNERS, "edit")
    active = definitions.latest(session, process_key)
    if active is None:
        raise NotFound(N_("No process %(process_key)s is deployed."), process_key=repr(process_key))
    return create(session, actor, dict(active.files), title=process_key,
                  base_definition_id=active.id, process_key=process_key)


def get(session: Session, draft_id: int, lock: bool = False) -> DefinitionDraft:
    query = select(DefinitionDraft).where(DefinitionDraft.id == draft_id)
    if lock:
        query = query.with_for_update()
    draft = session.scalars(query).first()
    if draft is None:
        raise NotFound(N_("Draft %(draft_id)s does not exist."), draft_id=draft_id)
    return draft


def save(session: Session, actor: Actor, draft_id: int, files: dict[str, str | bytes], expected_version: int,
         title: str | None = None, replace: bool = True) -> Saved:
    """Save new contents of a draft. `expected_version` is the version the editor loaded:
    if someone saved in between, this is a conflict and nothing is overwritten.

    With `replace=False` the files are merged into the draft (an upload of some files)."""
    require(actor, DESIGNERS, "edit")
    draft = get(session, draft_id, lock=True)
    if draft.status not in EDITABLE:
        raise Conflict(N_("This draft is %(status)s; it can no longer be edited. Start a new draft."), status=draft.status)
    if draft.version != expected_version:
        raise Conflict(N_("Someone else saved this draft meanwhile (version %(version)s, you edited version %(expected_version)s). Reload it; your changes were not saved."), version=draft.version, expected_version=expected_version)
    merged = dict(draft.files) if not replace else {}
    merged.update(clean_files(files))
    report = validate(merged)
    if refusal(report):
        raise UploadRefused(report)
    draft.files = merged
    draft.report = checked_report(session, merged, report)
    if draft.process_key not in report.process_ids:
        draft.process_key = main_process(report, merged) or draft.process_key
    if actor.username not in (draft.editors or []):
        draft.editors = [*(draft.editors or []), actor.username]
    draft.status = "draft"
    draft.updated_at = utcnow()
    if title is not None:
        draft.title = title
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(N_("Someone else saved this draft at the same moment; reload it.")) from exc
    audit.append(session, actor.username, "draft_saved", business_key=history_key(draft.process_key),
                 detail={"draft_id": draft.id, "revision": draft.version, "errors": len(report.errors),
                         "warnings": len(report.warnings)})
    return Saved(draft, report)


def submit(session: Session, actor: Actor, draft_id: int, change_note: str) -> DefinitionDraft:
    require(actor, DESIGNERS, "submit")
    draft = get(session, draft_id, lock=True)
    if draft.status not in EDITABLE:
        raise Conflict(N_("This draft is already %(status)s."), status=draft.status)
    if not (change_note or "").strip():
        raise ValidationFailed({"change_note": N_("Describe what changed and why.")})
    report = validate(draft.files)
    draft.report = checked_report(session, draft.files, report)
    if not report.ok:
        raise ValidationFailed({f"{f.file or '-'}:{f.element_id or f.code}": f.message["en"] for f in report.errors},
                               N_("The draft has validation errors; fix them before submitting."))
    failing = failing_scenarios(draft.report)
    if failing:
        raise ScenariosFailing(failing)
    _refuse_stale(session, draft)
    draft.status = "submitted"
    draft.change_note = change_note.strip()
    draft.submitted_at = utcnow()
    if draft.process_key not in report.process_ids:
        draft.process_key = main_process(report, draft.files) or draft.process_key
    audit.append(session, actor.username, "draft_submitted", business_key=history_key(draft.process_key),
                 detail={"draft_id": draft.id, "change_note": draft.change_note})
    return draft


def _decide(session: Session, actor: Actor, draft_id: int, decision: str, comment: str) -> tuple[DefinitionDraft, DraftReview]:
    require(actor, REVIEWERS, "review")
    draft = get(session, draft_id, lock=True)
    if draft.status != "submitted":
        raise Conflict(N_("This draft is %(status)s, not waiting for review."), status=draft.status)
    if draft.author == actor.username or actor.username in (draft.editors or []):
        raise Forbidden(N_("You cannot review your own draft: a second person must approve it."))
    if decision == "approved":
        _refuse_stale(session, draft)
    if decision == "rejected" and not (comment or "").strip():
        raise ValidationFailed({"comment": N_("Say why the draft is rejected.")})
    active = definitions.latest(session, draft.process_key) if draft.process_key else None
    review = DraftReview(draft_id=draft.id, reviewer=actor.username, decision=decision,
                         comment=(comment or "").strip(), against_definition_id=active.id if active else None)
    session.add(review)
    draft.status = decision
    draft.updated_at = utcnow()
    session.flush()
    audit.append(session, actor.username, f"draft_{decision}", business_key=history_key(draft.process_key),
                 detail={"draft_id": draft.id, "review_id": review.id, "comment": review.comment,
                         "author": draft.author})
    return draft, review


def reject(db, actor: Actor, draft_id: int, comment: str) -> DraftReview:
    with db.write_session.begin() as session:
        _draft, review = _decide(session, actor, draft_id, "rejected", comment)
        return review


def approve(runtime, actor: Actor, draft_id: int, comment: str = "") -> ProcessDefinition:
    """Approve and deploy. The approval is recorded first (only one reviewer can win it);
    if the deployment then fails, the draft goes back to `submitted` and the failure is audited."""
    db = runtime.db
    with db.write_session.begin() as session:
        draft, review = _decide(session, actor, draft_id, "approved", comment)
        files, process_key, review_id = dict(draft.files), draft.process_key, review.id
        # The note is read on the version history and in the audit log: the approver as people know them.
        approver = session.scalar(select(User.display_name).where(User.username == actor.username)) or actor.username
        note = f"draft {draft.id}: {draft.change_note} (approved by {approver})"
    try:
        deployed = runtime.deploy(files, actor, note)
    except DefinitionError as exc:
        with db.write_session.begin() as session:
            draft = get(session, draft_id, lock=True)
            draft.status = "submitted"
            session.delete(session.get(DraftReview, review_id))
            audit.append(session, actor.username, "draft_deploy_failed", business_key=history_key(process_key),
                         detail={"draft_id": draft_id, "error": exc.message})
        raise
    main = next((d for d in deployed if d.process_key == process_key), deployed[0])
    with db.write_session.begin() as session:
        draft = get(session, draft_id)
        draft.deployed_definition_id = main.id
        session.get(DraftReview, review_id).deployed_definition_id = main.id
        audit.append(session, actor.username, "draft_deployed", business_key=history_key(process_key),
                     detail={"draft_id": draft_id, "definition_id": main.id, "version": main.version,
                             "sha256": main.sha256})
    return main


# -- drafts of the same process side by side: a warning, then rebase or discard --

STALE = N_("Version %(version)s of this process was approved after this draft was started; "
           "rebase the draft onto it or discard it.")


def pending_siblings(session: Session, draft: DefinitionDraft) -> list[DefinitionDraft]:
    """Other drafts of the same process still on their way (the designer is warned of them)."""
    if not draft.process_key:
        return []
    return list(session.scalars(select(DefinitionDraft).where(
        DefinitionDraft.process_key == draft.process_key, DefinitionDraft.id != draft.id,
        DefinitionDraft.status.in_(PENDING)).order_by(DefinitionDraft.id)))


def newer_version(session: Session, draft: DefinitionDraft) -> ProcessDefinition | None:
    """The version deployed after the one this draft started from, if any."""
    if draft.base_definition_id is None or not draft.process_key or draft.status not in PENDING:
        return None
    latest = definitions.latest(session, draft.process_key)
    return latest if latest is not None and latest.id != draft.base_definition_id else None


def _refuse_stale(session: Session, draft: DefinitionDraft) -> None:
    newer = newer_version(session, draft)
    if newer is not None:
        raise Conflict(STALE, version=newer.version)


@dataclass
class Rebased:
    saved: Saved
    conflicts: list[str]  # files both sides changed: the draft's text is kept, the designer checks them


def rebase(session: Session, actor: Actor, draft_id: int, expected_version: int) -> Rebased:
    """Carry the draft's changes over to the newest version, file by file: a file only the draft
    changed keeps the draft's text, one only the new version changed takes the new text, one both
    changed keeps the draft's and is reported as a conflict."""
    require(actor, DESIGNERS, "edit")
    draft = get(session, draft_id, lock=True)
    newer = newer_version(session, draft)
    if newer is None:
        raise Conflict(N_("This draft is already based on the newest version."))
    base = session.get(ProcessDefinition, draft.base_definition_id)
    base_files, theirs, ours = dict(base.files), dict(newer.files), dict(draft.files)
    merged, conflicts = {}, []
    for name in sorted(set(base_files) | set(theirs) | set(ours)):
        old, new, mine = base_files.get(name), theirs.get(name), ours.get(name)
        if mine == old:
            chosen = new
        elif new == old or new == mine:
            chosen = mine
        else:
            chosen = mine
            conflicts.append(name)
        if chosen is not None:
            merged[name] = chosen
    if draft.status not in EDITABLE:
        draft.status = "draft"
    saved = save(session, actor, draft_id, merged, expected_version)
    saved.draft.base_definition_id = newer.id
    audit.append(session, actor.username, "draft_rebased", business_key=history_key(draft.process_key),
                 detail={"draft_id": draft_id, "onto_definition_id": newer.id, "onto_version": newer.version,
                         "conflicts": conflicts})
    return Rebased(saved, conflicts)


def discard(session: Session, actor: Actor, draft_id: int) -> DefinitionDraft:
    require(actor, DESIGNERS, "edit")
    draft = get(session, draft_id, lock=True)
    if actor.role != "admin" and actor.username not in (draft.editors or [draft.author]):
        raise Forbidden(N_("Only the people who edited this draft may discard it."))
    if draft.status not in PENDING:
        raise Conflict(N_("This draft is already %(status)s."), status=draft.status)
    draft.status = "discarded"
    draft.updated_at = utcnow()
    audit.append(session, actor.username, "draft_discarded", business_key=history_key(draft.process_key),
                 detail={"draft_id": draft_id})
    return draft


def history(session: Session, process_key: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.business_key == history_key(process_key))
                                .order_by(AuditEntry.id)))


def versions(session: Session, process_key: str) -> list[tuple[ProcessDefinition, DraftReview | None, DefinitionDraft | None]]:
    """Each deployed version, newest first, with the review that approved it (None: deployed outside review)."""
    rows = session.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == process_key)
                           .order_by(ProcessDefinition.version.desc())).all()
    reviews = {r.deployed_definition_id: r for r in session.scalars(
        select(DraftReview).where(DraftReview.deployed_definition_id.in_([d.id for d in rows])))} if rows else {}
    drafts = {d.id: d for d in session.scalars(
        select(DefinitionDraft).where(DefinitionDraft.id.in_([r.draft_id for r in reviews.values()])))} if reviews else {}
    return [(d, reviews.get(d.id), drafts.get(reviews[d.id].draft_id) if d.id in reviews else None) for d in rows]
