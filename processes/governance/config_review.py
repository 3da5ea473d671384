"""Changes of the reviewed configuration (process settings, business calendar, e-mail templates),
reviewed like a process definition: an author proposes new values with a note, a compliance
reviewer who is not the author sees the old and the new value of each changed key side by side
and approves or rejects. Approval writes the next numbered version (complaints/config_versions);
what is already running keeps the version it started with.

Each kind names who may propose it and how its values are checked; the rules are enforced here,
so the pages, the API and scripts share them. Every step is audited under `config:<kind>`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from processes.complaints import config_versions
from processes.complaints.records import ConfigVersion
from processes.engine import audit
from processes.engine.actors import Actor
from processes.engine.errors import N_, Conflict, Forbidden, NotFound, ValidationFailed
from processes.engine.models import utcnow
from processes.governance.models import ConfigDraft

REVIEWERS = frozenset({"compliance_reviewer", "admin"})
NOTE_LIMIT = 2000
Problem = tuple[str, dict]


@dataclass(frozen=True)
class Kind:
    authors: frozenset[str]
    # (values as entered) -> (cleaned values, refusals by field)
    check: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Problem]]]
    # the values in force when there is no approved version yet
    defaults: Callable[[], dict[str, Any]]
    # what the reviewer reads for one key: a label in both languages
    describe: Callable[[str], str]
    # called after a version of this kind is approved, in the same process (caches)
    approved: Callable[[int, dict], None] | None = None


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


class ConfigRefused(ValidationFailed):
    """The proposal has fields to correct; `problems`: field -> (template, params) for the page."""

    def __init__(self, problems: dict[str, Problem]):
        super().__init__({k: t % p if p else t for k, (t, p) in problems.items()})
        self.problems = problems


def _kind(name: str) -> Kind:
    if name not in KINDS:
        raise NotFound(N_("There is no configuration called %(kind)s."), kind=name[:40])
    return KINDS[name]


def in_force(session: Session, kind: str) -> tuple[int | None, dict[str, Any]]:
    """(version, values) now: the approved version over the defaults."""
    version, values = config_versions.in_force(session, kind)
    return version, {**_kind(kind).defaults(), **values}


def history_key(kind: str) -> str:
    return f"config:{kind}"


def pending(session: Session, kind: str) -> ConfigDraft | None:
    return session.scalar(select(ConfigDraft).where(ConfigDraft.kind == kind, ConfigDraft.status == "submitted")
                          .order_by(ConfigDraft.id.desc()).limit(1))


def propose(session: Session, actor: Actor, kind: str, values: dict[str, Any], note: str,
            report: Callable[[dict], dict] | None = None) -> ConfigDraft:
    """A submitted draft of new values. Refused (nothing stored) with a message per field, when
    nothing changes, when the note is empty, or while another change of this kind awaits review.
    `report(values)`: the draft's test run, stored for the reviewer."""
    spec = _kind(kind)
    if actor.role not in spec.authors:
        raise Forbidden(N_("Your role may not change this configuration."))
    cleaned, problems = spec.check(values)
    note = (note or "").strip()
    if not note:
        problems["note"] = (N_("Say why the change is needed; the reviewer reads it."), {})
    elif len(note) > NOTE_LIMIT:
        problems["note"] = (N_("At most %(limit)s characters."), {"limit": NOTE_LIMIT})
    version, old = in_force(session, kind)
    if not problems and not changed(old, cleaned):
        problems["note"] = (N_("Nothing differs from the version in force."), {})
    if problems:
        raise ConfigRefused(problems)
    waiting = pending(session, kind)
    if waiting is not None:
        raise Conflict(N_("Change %(id)s of this configuration awaits review; it must be decided or withdrawn first."),
                       id=waiting.id)
    draft = ConfigDraft(kind=kind, values=cleaned, base_version=version, author=actor.username, note=note,
                        status="submitted", report=report(cleaned) if report else {})
    session.add(draft)
    session.flush()
    audit.append(session, actor.username, "config_submitted", business_key=history_key(kind),
                 detail={"draft": draft.id, "base_version": version, "changed": changed(old, cleaned), "note": note})
    return draft


def changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys whose value differs, in the new values' order, then removed ones."""
    return [k for k in new if old.get(k) != new[k]] + [k for k in old if k not in new]


@dataclass(frozen=True)
class Change:
    key: str
    label: str
    old: Any
    new: Any


def changes(session: Session, draft: ConfigDraft) -> list[Change]:
    """Exactly what the draft changes against the version it was based on: one row per changed key."""
    spec = _kind(draft.kind)
    base = config_versions.get(session, draft.kind, draft.base_version) if draft.base_version else None
    old = {**spec.defaults(), **(base.values if base else {})}
    return [Change(k, spec.describe(k), old.get(k), draft.values.get(k)) for k in changed(old, draft.values)]


def get(session: Session, draft_id: int, kind: str | None = None) -> ConfigDraft:
    draft = session.get(ConfigDraft, draft_id)
    if draft is None or (kind is not None and draft.kind != kind):
        raise NotFound(N_("There is no such configuration change."))
    return draft


def _open(session: Session, draft_id: int, kind: str | None) -> ConfigDraft:
    draft = get(session, draft_id, kind)
    if draft.status != "submitted":
        raise Conflict(N_("This change was already decided or withdrawn."))
    return draft


def approve(session: Session, actor: Actor, draft_id: int, comment: str = "", kind: str | None = None) -> ConfigVersion:
    """The next numbered version of the draft's values, in force for what starts from now on."""
    draft = _open(session, draft_id, kind)
    _require_reviewer(actor, draft)
    version, _values = config_versions.in_force(session, draft.kind)
    if version != draft.base_version:
        raise Conflict(N_("Another change was approved after this one was proposed; reject it and propose again."))
    row = ConfigVersion(kind=draft.kind, version=(version or 0) + 1, values=draft.values, author=draft.author,
                        approved_by=actor.username, note=draft.note)
    session.add(row)
    draft.status, draft.reviewer, draft.review_comment = "approved", actor.username, (comment or "")[:NOTE_LIMIT]
    draft.decided_at, draft.approved_version = utcnow(), row.version
    session.flush()
    audit.append(session, actor.username, "config_approved", business_key=history_key(draft.kind),
                 detail={"draft": draft.id, "version": row.version, "author": draft.author,
                         "changed": [c.key for c in changes(session, draft)]})
    hook = _kind(draft.kind).approved
    if hook is not None:
        number, values = row.version, dict(row.values)
        event.listen(session, "after_commit", lambda _s: hook(number, values), once=True)
    return row


def reject(session: Session, actor: Actor, draft_id: int, comment: str, kind: str | None = None) -> ConfigDraft:
    draft = _open(session, draft_id, kind)
    _require_reviewer(actor, draft)
    comment = (comment or "").strip()
    if not comment or len(comment) > NOTE_LIMIT:
        raise ConfigRefused({"comment": (N_("Say why the change is rejected (at most %(limit)s characters)."),
                                         {"limit": NOTE_LIMIT})})
    draft.status, draft.reviewer, draft.review_comment, draft.decided_at = "rejected", actor.username, comment, utcnow()
    audit.append(session, actor.username, "config_rejected", business_key=history_key(draft.kind),
                 detail={"draft": draft.id, "author": draft.author, "comment": comment})
    return draft


def withdraw(session: Session, actor: Actor, draft_id: int, kind: str | None = None) -> ConfigDraft:
    draft = _open(session, draft_id, kind)
    if actor.username != draft.author and actor.role != "admin":
        raise Forbidden(N_("Only the author (or an administrator) may withdraw this change."))
    draft.status, draft.decided_at = "withdrawn", utcnow()
    audit.append(session, actor.username, "config_withdrawn", business_key=history_key(draft.kind),
                 detail={"draft": draft.id})
    return draft


def _require_reviewer(actor: Actor, draft: ConfigDraft) -> None:
    if actor.role not in REVIEWERS:
        raise Forbidden(N_("Only a compliance reviewer may approve or reject configuration changes."))
    if actor.username == draft.author:
        raise Forbidden(N_("Four eyes: you proposed this change, so someone else must review it."))


def drafts(session: Session, kind: str, limit: int = 30) -> list[ConfigDraft]:
    return list(session.scalars(select(ConfigDraft).where(ConfigDraft.kind == kind)
                                .order_by(ConfigDraft.id.desc()).limit(limit)))


# -- the kinds the complaint domain brings -------------------------------------------------------


def _settings_kind() -> Kind:
    from processes.complaints.settings import SETTINGS, check_settings, default_settings

    return Kind(authors=frozenset({"process_designer", "admin"}), check=check_settings, defaults=default_settings,
                describe=lambda key: SETTINGS[key][1] if key in SETTINGS else key)


register("settings", _settings_kind())


def _calendar_kind() -> Kind:
    from processes.complaints import company_calendar

    return Kind(authors=frozenset({"admin"}), check=company_calendar.check_calendar,
                defaults=company_calendar.defaults, describe=lambda key: key, approved=company_calendar.approved)


register("calendar", _calendar_kind())


def settings_test_run(session: Session) -> Callable[[dict], dict]:
    """The designer's test run for a settings draft: the deployed complaint process's scenario suite,
    run with the draft's settings (inside a savepoint that is rolled back)."""
    from processes.complaints.registration import PROCESS_KEY
    from processes.engine.definitions import latest
    from processes.governance.test_run import run_suite

    def run(values: dict) -> dict:
        deployed = latest(session, PROCESS_KEY)
        if deployed is None:
            return {"scenarios": []}
        return {"scenarios": run_suite(dict(deployed.files), [PROCESS_KEY], values, session),
                "definition_version": deployed.version}

    return run
