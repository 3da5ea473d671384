"""Inbox queries: they read human-task rows only, never a workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from processes.actors import Actor
from processes.models import HumanTask

SCOPES = ("mine", "group", "all")


@dataclass
class Page:
    tasks: list[HumanTask]
    page: int
    per_page: int
    has_next: bool


def inbox_query(actor: Actor, scope: str) -> Select:
    query = select(HumanTask).where(HumanTask.status == "open")
    if scope == "mine":
        return query.where(HumanTask.assignee == actor.username)
    if scope == "group":
        return query.where(HumanTask.department == actor.department, HumanTask.assignee.is_(None))
    if scope == "all":
        if actor.is_overseer or actor.role == "manager":
            return query
        # Without an overseeing role, "all" means everything of one's own department.
        return query.where(HumanTask.department == actor.department)
    raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")


def list_tasks(session: Session, actor: Actor, scope: str = "mine", page: int = 1, per_page: int = 50,
               query: Select | None = None) -> Page:
    """One page of open tasks, soonest due first (tasks without a due time last)."""
    page = max(page, 1)
    query = query if query is not None else inbox_query(actor, scope)
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
    rows = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)


def task_summary(task: HumanTask) -> dict:
    return {
        "id": task.id,
        "bpmn_id": task.bpmn_id,
        "name": task.name,
        "lane": task.lane,
        "complaint_reference": task.business_key,
        "assignee": task.assignee,
        "due_at": _iso(task.due_at),
        "created_at": _iso(task.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
