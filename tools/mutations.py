"""Mutation check on demand (`make mutate`): break each guarantee on purpose, one at a time, and run the
tests that guard it. A mutation is *killed* when its tests fail, *survived* when they still pass.

Each mutation is a text patch applied in place and always restored (also on Ctrl-C); the script
refuses to start when the working tree has changes in the files it patches. PostgreSQL-only
guarantees run when REDRESS_TEST_DATABASE_URL is set, and are reported "not run" otherwise.
Not part of CI: it runs the guarding tests once per mutation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]


@dataclass
class Mutation:
    name: str
    path: str
    old: str | tuple[str, ...]  # several strings: each is replaced by the matching `new`
    new: str | tuple[str, ...]
    tests: list[str]
    postgres: bool = False
    everywhere: bool = False  # replace every occurrence, not exactly one

    def apply(self, text: str) -> str | None:
        """The mutated text, or None when the patch does not apply exactly."""
        olds = self.old if isinstance(self.old, tuple) else (self.old,)
        news = self.new if isinstance(self.new, tuple) else (self.new,)
        for old, new in zip(olds, news, strict=True):
            found = text.count(old)
            if found == 0 or (found > 1 and not self.everywhere):
                return None
            text = text.replace(old, new)
        return text


MUTATIONS = [
    # A completion locks its instance with its task (_LOCK_TASK_AND_INSTANCE); other steps with _LOCK_INSTANCE.
    Mutation("no instance row lock and no optimistic version check", "processes/engine/runtime.py",
             ('_INSTANCES.c.id == bindparam("the_id"), _INSTANCES.c.version == bindparam("read_version"))',
              '_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("the_id")).with_for_update()',
              '.where(HumanTask.id == bindparam("the_id")).with_for_update(of=ProcessInstance)'),
             ('_INSTANCES.c.id == bindparam("the_id"))',
              '_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("the_id"))',
              '.where(HumanTask.id == bindparam("the_id"))'),
             # The barrier test alone lets the two completions run one after the other now and then
             # (it survived 2 of 3 runs); the interleaved test holds the first mid-step, every run.
             ["tests/test_runtime.py::test_concurrent_completion_one_wins",
              "tests/test_runtime.py::test_a_completion_waits_for_the_one_in_progress_interleaved_by_hand"],
             postgres=True),
    Mutation("the instance row lock alone is gone (the version check stays)", "processes/engine/runtime.py",
             ('_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("the_id")).with_for_update()',
              '.where(HumanTask.id == bindparam("the_id")).with_for_update(of=ProcessInstance)'),
             ('_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("the_id"))',
              '.where(HumanTask.id == bindparam("the_id"))'),
             ["tests/test_runtime.py::test_a_completion_waits_for_the_one_in_progress_interleaved_by_hand"],
             postgres=True),
    Mutation("no FOR UPDATE SKIP LOCKED in the timer query", "processes/engine/runtime.py",
             "_DUE_TIMERS_NOBODY_HOLDS = _DUE_TIMERS.with_for_update(skip_locked=True)",
             "_DUE_TIMERS_NOBODY_HOLDS = _DUE_TIMERS",
             ["tests/test_worker.py::test_several_workers_fire_each_timer_once"], postgres=True),
    Mutation("audit hash leaves out the time", "processes/engine/audit.py",
             "[prev_hash, entry_id, at.isoformat(), actor,", "[prev_hash, entry_id, actor,",
             ["tests/test_audit.py"]),
    Mutation("audit hash leaves out business_key and instance_id", "processes/engine/audit.py",
             "action, business_key, instance_id, detail],", "action, detail],", ["tests/test_audit.py"]),
    Mutation("audit hash leaves out the actor", "processes/engine/audit.py",
             "at.isoformat(), actor, action,", "at.isoformat(), action,", ["tests/test_audit.py"]),
    Mutation("audit verify ignores the stored previous hash", "processes/engine/audit.py",
             "if e.prev_hash != prev_hash:", "if False:", ["tests/test_audit.py"]),
    Mutation("script engine imports any module", "processes/engine/sandbox.py",
             "if name in _IMPLICIT_IMPORTS and level == 0:", "if True:", ["tests/test_sandbox.py"]),
    Mutation("resolve deadline uses the mediation limit", "bpmn/complaint.bpmn",
             'resolve_due = sla_deadline("resolve", sla_class, received_at, settings.get("sla_profile"))',
             'resolve_due = sla_deadline("mediation", sla_class, received_at, settings.get("sla_profile"))',
             ["tests/test_complaint_paths.py"]),
    Mutation("investigation breach fires when the complaint arrives", "bpmn/complaint.bpmn",
             '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">respond_due</bpmn:timeDate>',
             '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">received_at</bpmn:timeDate>',
             ["tests/test_complaint_paths.py"], everywhere=True),
    Mutation("acceptance limit 1 working day instead of 3", "processes/complaints/sla.py",
             '"accept": {"default": "3 working_days"', '"accept": {"default": "1 working_day"',
             ["tests/test_sla_pinned.py", "tests/test_complaint_paths.py"]),
    Mutation("CBIRC resolve limit 30 days for every severity", "processes/complaints/sla.py",
             '"amount": 15,\n                    "unit": "calendar_days",',
             '"amount": 30,\n                    "unit": "calendar_days",', ["tests/test_sla_pinned.py"]),
    Mutation("survey wait 4 days instead of 5", "processes/complaints/settings.py",
             '"P5D",\n        "How long to wait for the survey answer', '"P4D",\n        "How long to wait for the survey answer',
             ["tests/test_complaint_paths.py::test_the_response_wait_then_the_follow_up_wait_then_the_survey_wait_to_the_minute"]),
    Mutation("mediation limit counted in calendar days", "processes/complaints/sla.py",
             '"mediation": {"default": "30 working_days"', '"mediation": {"default": "30 calendar_days"',
             ["tests/test_complaint_paths.py::test_the_mediation_answer_wait_and_the_mediation_limit_to_the_minute"]),
    Mutation("archives lose who did each task (production services)", "processes/engine/runtime.py",
             "        return audit.completed_tasks(self._uow.session, business_key)", "        return []",
             ["tests/test_complaint_paths.py::test_rule_based"]),
    Mutation("production hashes passwords cheaply", "processes/engine/users.py",
             "PRODUCTION_HASHER = PasswordHasher()", "PRODUCTION_HASHER = PasswordHasher(time_cost=1, memory_cost=64)",
             ["tests/test_staff_accounts.py::test_production_hashes_passwords_at_the_recommended_cost"]),
    Mutation("designers may approve drafts (service layer)", "processes/governance/drafts.py",
             'require(actor, REVIEWERS, "review")', "pass", ["tests/test_service_roles.py"]),
    Mutation("four-eyes forgets the editors", "processes/governance/drafts.py",
             "if draft.author == actor.username or actor.username in (draft.editors or []):",
             "if draft.author == actor.username:", ["tests/test_service_roles.py"]),
    Mutation("anyone may migrate or undo a migration (service layer)", "processes/governance/migration.py",
             '        raise Forbidden(N_("Your role may not migrate running instances."))',
             "        pass", ["tests/test_service_roles.py"], everywhere=True),
    Mutation("any department may claim a task (runtime)", "processes/engine/runtime.py",
             "if not may_work(actor, row.department, row.candidate_group, None):", "if False:",
             ["tests/test_service_roles.py"]),
    Mutation("deadlines ignore the complaint's SLA profile", "processes/complaints/sla.py",
             "policy = load_policy(profile=profile) if profile else load_policy()", "policy = load_policy()",
             ["tests/test_complaint_paths.py::test_the_resolve_breach_fires_at_the_resolve_deadline_and_not_before"]),
    Mutation("every SLA deadline a minute early (breach timers fire a minute before)", "processes/complaints/sla.py",
             'return policy.deadline(stage, severity, start).isoformat(timespec="seconds")',
             'return (policy.deadline(stage, severity, start) - timedelta(minutes=1)).isoformat(timespec="seconds")',
             ["tests/test_complaint_paths.py::test_the_acceptance_breach_fires_at_its_deadline_and_not_before"]),
    Mutation("under CI a PostgreSQL-only test is skipped without PostgreSQL", "tests/conftest.py",
             'if os.environ.get("CI"):\n        pytest.fail(', 'if False:\n        pytest.fail(',
             ["tests/test_ci_is_loud.py"]),
    Mutation("under CI a browser test is skipped without Chromium", "tests/browser/conftest.py",
             'if os.environ.get("REDRESS_REQUIRE_BROWSER") or os.environ.get("CI"):',
             'if os.environ.get("REDRESS_REQUIRE_BROWSER"):', ["tests/test_ci_is_loud.py"]),
    Mutation("building a runtime opens a session on the database built before (left on templates)",
             "processes/complaints/sla.py", "    return _environment_policy(None, None).name",
             "    return load_policy().name", ["tests/test_privacy.py"], postgres=True),
    Mutation("an answer sent never corrects the complaint's ledger entry", "handlers/complaint.py",
             "        ledger.correct(_session(ctx), _by(ctx), entry, kind, amount, approved, why, ctx.instance_id)",
             "        pass", ["tests/test_ladder_compensation_pages.py", "tests/test_complaint_paths.py"]),
    Mutation("each answer sent books a new ledger entry", "handlers/complaint.py",
             "    entry = _recorded_entry(ctx)\n    kind = _param(ctx, \"kind\")",
             "    entry = None\n    kind = _param(ctx, \"kind\")", ["tests/test_complaint_paths.py"]),
    Mutation("the validator no longer counts a four-eyes check as an approval", "processes/governance/validation.py",
             ' or _props(t).get("fourEyesAgainst")}', "}", ["tests/test_validation.py"]),
]


def _dirty(paths: set[str]) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--", *sorted(paths)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def run_one(m: Mutation) -> str:
    if m.postgres and not os.environ.get("REDRESS_TEST_DATABASE_URL"):
        return "not run (needs PostgreSQL)"
    path = ROOT / m.path
    original = path.read_text(encoding="utf-8")
    mutated = m.apply(original)
    if mutated is None:
        return "PATCH DOES NOT APPLY"
    path.write_text(mutated, encoding="utf-8")
    try:
        select = ["-k", "postgresql"] if m.postgres else []  # the SQLite copies are skipped
        result = subprocess.run([*PYTEST, *select, *m.tests], cwd=ROOT, capture_output=True, text=True,
                                check=False)
    finally:
        path.write_text(original, encoding="utf-8")  # restored whatever happened
    if result.returncode == 1:
        return "killed"
    if result.returncode == 0:
        return "SURVIVED"
    return f"error (pytest exit {result.returncode})"


def main(argv: list[str]) -> int:
    """`tools/mutations.py [words]` runs only the mutations whose name contains every word."""
    chosen = [m for m in MUTATIONS if all(w.lower() in m.name.lower() for w in argv)]
    dirty = _dirty({m.path for m in chosen})
    if dirty:
        print("refusing: uncommitted changes in files to mutate:\n  " + "\n  ".join(dirty))
        return 2
    counts: dict[str, int] = {}
    for m in chosen:
        started = time.monotonic()
        outcome = run_one(m)
        key = outcome.split()[0].lower()
        counts[key] = counts.get(key, 0) + 1
        print(f"{outcome:28} {time.monotonic() - started:6.1f}s  {m.name}", flush=True)
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0 if set(counts) <= {"killed", "not"} else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
