"""The demo's short waits, as a reviewed settings version like any other change.

`redress demo` drives its complaints to the end at once, so it needs no wait before the
satisfaction survey. The demo's process designer proposes that change and its compliance
reviewer approves it through the review (config_review), so the audit log and /admin/settings
show it; after the demo's complaints have started, the waits in force before come back the same
way. The demo's complaints keep the short version they started with; later ones do not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from processes.complaints import demo
from processes.engine.actors import Actor
from processes.governance import config_review

SHORT_WAITS = {"follow_up_wait": "PT0S"}
AUTHOR = Actor("designer", "management", "process_designer")  # demo users (complaints/demo.py)
REVIEWER = Actor("reviewer", "management", "compliance_reviewer")
SHORT_NOTE = "演示：满意度调查前不等待 / Demo: no wait before the satisfaction survey, for the demo's complaints."
BACK_NOTE = "演示结束：恢复原等待时间 / Demo loaded: the waits in force before it come back."


def _reviewed(runtime, change, note: str) -> None:
    """`change(values in force)` -> new values, proposed by the demo's designer, approved by its reviewer."""
    with runtime.db.write_session.begin() as s:
        _version, values = config_review.in_force(s, "settings")
        new = change(values)
        if not config_review.changed(values, new):
            return
        draft = config_review.propose(s, AUTHOR, "settings", new, note)
        config_review.approve(s, REVIEWER, draft.id, "demo")


@contextmanager
def short_waits(runtime) -> Iterator[None]:
    """Complaints started inside run with the demo's short waits, from an approved settings version."""
    with runtime.db.session() as s:
        before = config_review.in_force(s, "settings")[1]
    _reviewed(runtime, lambda values: {**values, **SHORT_WAITS}, SHORT_NOTE)
    try:
        yield
    finally:
        _reviewed(runtime, lambda values: {**values, **{key: before[key] for key in SHORT_WAITS}}, BACK_NOTE)


def load_demo(runtime) -> list[str]:
    """`redress demo`'s users and complaints (complaints/demo.py), under the reviewed short waits."""
    return demo.load_demo(runtime, waits=lambda: short_waits(runtime))
