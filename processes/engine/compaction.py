"""Finished loop rounds spliced out of the tree a step works on, kept for the history.

A loop adds tasks to the tree with every round, and a step loaded from the rows would read
them all. Most finished tasks can never matter again: nothing SpiffWorkflow does with a
running instance looks at a completed task that sits in a plain chain (one child, itself
completed) other than by walking past it. Such a task is spliced out: its child takes its
place under its parent, so the tree keeps every other task in the same order and every
ancestor relation between the tasks that stay. Its row stays, marked `compacted`, and every
row keeps its *original* links, so the whole tree can be put together again for the views,
the audit and a migration (``WorkflowStore.load(..., history=True)``).

What is never spliced, because SpiffWorkflow reads it again:
- a task with an unfinished child (the child inherits its data when it becomes ready);
- a join, or the parent of a join (joins read their inputs' tasks and data, round after round);
- the split a join looks for (a boundary event's split), a task that owns a subprocess,
  the workflow's last task, the root.
A standard loop's finished iterations are its children, not a chain: each merged iteration
leaves the loop's children in order, first to last, so its original children are the merged
ones that left followed by the ones that stay.

In memory a spliced child remembers its original parent (`_redress_origin`) and which task
stood in its place under its current parent (`_redress_top`); rows carry them as the links
of the body (``parent``/``children``) beside the live ones (``live_parent``/``live_children``).
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import StandardLoopTask
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task, TaskState

COMPLETED = TaskState.COMPLETED


def original_links(task: Task) -> tuple[str | None, list[str]]:
    """The task's parent and children as they were before any splice."""
    parent = getattr(task, "_redress_origin", None) or task._parent
    table = task.workflow.tasks
    children = [str(getattr(table.get(child), "_redress_top", child)) for child in task._children]
    return (str(parent) if parent is not None else None), children


def links(task: Task) -> dict:
    """The link fields of a task's row: the original ones, and the live ones where they differ."""
    parent, children = original_links(task)
    body = {"parent": parent, "children": children}
    live_parent = str(task._parent) if task._parent is not None else None
    live_children = [str(child) for child in task._children]
    if live_parent != parent:
        body["live_parent"] = live_parent
        body["top"] = str(task._redress_top)
    if live_children != children:
        body["live_children"] = live_children
    return body


_LIVE_KEYS = ("live_parent", "live_children", "top")


def stored_internal(task: Task, internal: dict) -> dict:
    """A task's internal data as its row keeps it. A standard loop's list of merged iterations
    grows by one id a round; the ids of the iterations that left its children are in their own
    rows, so the row keeps their number and the ids of the ones still there."""
    merged = internal.get("merged")
    if not isinstance(task.task_spec, StandardLoopTask) or not isinstance(merged, list):
        return internal
    present = {str(child) for child in task._children}
    kept = 0
    while kept < len(merged) and merged[len(merged) - 1 - kept] in present:
        kept += 1
    if kept == len(merged):
        return internal
    return {**internal, "merged": {"left": len(merged) - kept, "kept": merged[len(merged) - kept:]}}


def _live_merged(body: dict) -> None:
    """A loop's merged list for the live tree: placeholders for the iterations that left (only
    their number counts), then the ids of the ones still there."""
    merged = (body.get("internal_data") or {}).get("merged")
    if isinstance(merged, dict):
        body["internal_data"] = {**body["internal_data"], "merged": [None] * merged["left"] + merged["kept"]}


def restore_iterations(task_dicts: dict[str, dict]) -> None:
    """Put a loop's iterations that left back among its children and its merged list, in the
    order they ran, for the whole tree (their rows still name the loop as their parent)."""
    loops = [d for d in task_dicts.values() if isinstance((d.get("internal_data") or {}).get("merged"), dict)]
    for loop in loops:
        listed = set(loop["children"])
        left = sorted((d for d in task_dicts.values() if d["parent"] == loop["id"] and d["id"] not in listed),
                      key=lambda d: d["last_state_change"])
        merged = loop["internal_data"]["merged"]
        ids = [d["id"] for d in left]
        spec = left[0]["task_spec"] if left else None
        children = loop["children"]
        at = next((i for i, c in enumerate(children) if c in task_dicts and task_dicts[c]["task_spec"] == spec),
                  len(children))
        loop["children"] = children[:at] + ids + children[at:]
        loop["internal_data"] = {**loop["internal_data"], "merged": ids + merged["kept"]}


def live_links(body: dict) -> tuple[dict, tuple[str, str] | None]:
    """A row's body with its live links in place and, for a spliced task, (original parent,
    the task that stood in its place under its live parent)."""
    live = original_body(body)
    _live_merged(live)
    spliced = None
    if "live_parent" in body:
        spliced = (body["parent"], body["top"])
        live["parent"] = body["live_parent"]
    if "live_children" in body:
        live["children"] = body["live_children"]
    return live, spliced


def original_body(body: dict) -> dict:
    """A row's body as the whole tree had it."""
    return {key: value for key, value in body.items() if key not in _LIVE_KEYS}


def restore_links(table: dict, spliced: dict[str, tuple[str, str]]) -> None:
    """Put back, on tasks loaded from the live rows, what they remember of the original tree."""
    for task_id, (origin, top) in spliced.items():
        task = table[UUID(task_id)]
        task._redress_origin, task._redress_top = UUID(origin), UUID(top)


def compact(workflows: list[tuple[str, object]], top) -> tuple[dict, dict]:
    """Splice what can never matter again out of the tracked workflows' trees.

    Returns {task id: (workflow id, task, row links)} of the tasks spliced out, links as
    they were just before, and {task id: (workflow id, task)} of the tasks whose live
    links changed (their rows must be written again). The spliced tasks stay in their
    workflow's table until `drop`: what the unit of work does after saving (syncing the
    inbox, the observers) may still look at them and their children."""
    gone: dict = {}
    relinked: dict = {}
    for workflow_id, wf in workflows:
        table = wf.tasks
        splits = _split_names(wf.spec)
        looked_at = [t for t in (*table.touched.values(), *(table.get(i) for i in table.created)) if t is not None]
        for loop in looked_at:
            if isinstance(loop.task_spec, StandardLoopTask):
                while True:
                    at = _first_iteration(loop)
                    if not _is_iteration(loop, table.get(loop._children[at + 1]) if at + 1 < len(loop._children)
                                         else None):
                        break  # the last iteration stays: the ones that left go back before it
                    task = table.get(loop._children[at])
                    if not _is_merged_iteration(task, loop, top):
                        break
                    gone[task.id] = (workflow_id, task, links(task))
                    loop._children.pop(at)
                    relinked[loop.id] = (workflow_id, loop)
        for task in looked_at:
            if task._state != COMPLETED or task.id in gone:
                continue  # unfinished, or spliced out already
            parent = table.get(task._parent)
            while parent is not None and _can_splice(parent, task, wf, top, splits, gone):
                grandparent = table.get(parent._parent)
                gone[parent.id] = (workflow_id, parent, links(parent))
                grandparent._children[grandparent._children.index(parent.id)] = task.id
                task._parent = grandparent.id
                if not hasattr(task, "_redress_origin"):
                    task._redress_origin = parent.id
                task._redress_top = getattr(parent, "_redress_top", parent.id)
                relinked[grandparent.id] = (workflow_id, grandparent)
                relinked[task.id] = (workflow_id, task)
                parent = grandparent
    for task_id in gone:
        relinked.pop(task_id, None)
    return gone, relinked


def drop(gone: dict) -> None:
    """Take the spliced tasks out of their tables, once the unit of work is done with them."""
    for _workflow_id, task, _links in gone.values():
        task.workflow.tasks.compact(task)


def _can_splice(parent: Task, child: Task, wf, top, splits: frozenset[str], gone: dict) -> bool:
    return (parent._state == COMPLETED and parent._parent is not None and parent._children == [child.id]
            and parent.id not in gone and wf.tasks.get(parent._parent) is not None
            and not isinstance(child.task_spec, Join) and not isinstance(parent.task_spec, Join)
            and parent.task_spec.name not in splits and parent is not wf.last_task
            and parent.id not in top.subprocesses)


def _is_merged_iteration(task: Task | None, loop: Task, top) -> bool:
    """A finished iteration the loop merged already (the loop counts them by its list of
    merged ids, which stays)."""
    return (task is not None and task._state == COMPLETED and not task._children
            and task.id not in top.subprocesses and task is not task.workflow.last_task
            and str(task.id) in loop.internal_data.get("merged", ()))


def _is_iteration(loop: Task, child: Task | None) -> bool:
    return child is not None and child.task_spec.name == loop.task_spec.task_spec


def _first_iteration(loop: Task) -> int:
    """Where the loop's iterations begin among its children (predicted outputs come first)."""
    table = loop.workflow.tasks
    for index, child in enumerate(loop._children):
        if _is_iteration(loop, table.get(child)):
            return index
    return len(loop._children)


def _split_names(spec) -> frozenset[str]:
    """Names of the tasks joins look up among their ancestors (a boundary event's split)."""
    names = getattr(spec, "_redress_splits", None)
    if names is None:
        names = frozenset(s.split_task for s in spec.task_specs.values()
                          if isinstance(s, Join) and getattr(s, "split_task", None))
        spec._redress_splits = names
    return names
