"""A BpmnWorkflow that knows its unfinished tasks, so steps and saves skip history.

SpiffWorkflow walks the whole task tree to find READY tasks on every engine step
and WAITING tasks after every completed task, so its cost grows with everything an
instance ever did. A finished task never changes again (a reset aside), so the tasks
a step or a save has to look at are the unfinished ones. `TaskTable` is the
workflow's `tasks` dict: SpiffWorkflow adds a task with `tasks[id] = task` and removes
one with `tasks.pop(id)`, and the table notes both; finished tasks are dropped from
its `live` view lazily, the next time someone looks.

Ready and waiting tasks are taken in the tree's depth-first order, the order in which
SpiffWorkflow's own walk meets them: siblings by arrival (every task is numbered when it
arrives; a loaded workflow numbers its tasks depth-first), a subprocess right after the
task that runs it. That order can decide an outcome (a signal thrown in one branch and
caught in another), so a cached instance and one loaded from its rows must agree.
"""

from __future__ import annotations

import sys
from itertools import count
from uuid import UUID

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task, TaskState

FINISHED = TaskState.FINISHED_MASK
_arrivals = count()


def _tree_position(task: Task) -> list[int]:
    """Where the task stands in a depth-first walk of the whole tree, as a sortable path:
    the arrival numbers of its ancestors and itself, a subprocess's root counting as the
    first child (-1) of the task that runs the subprocess."""
    path = []
    while task is not None:
        parent = task.parent
        if parent is not None:
            path.append(task._redress_arrival)
            task = parent
        elif task.workflow.parent_task_id is not None:  # the root of a subprocess
            path.append(-1)
            task = task.workflow.top_workflow.get_task_from_id(task.workflow.parent_task_id)
        else:
            task = None
    path.reverse()
    return path


def _in_tree_order(tasks: list[Task]) -> list[Task]:
    return tasks if len(tasks) < 2 else sorted(tasks, key=_tree_position)


class TaskTable(dict):
    """A workflow's tasks by id, noting which may still change and which went away."""

    def __init__(self, *args):
        super().__init__(*args)
        self.live: dict[UUID, Task] = {}  # unfinished tasks, in arrival order (finished ones until pruned)
        self.touched: dict[UUID, Task] = {}  # tasks that may differ from what was last saved
        self.created: set[UUID] = set()  # arrived since the last save (their parent's children changed)
        self.removed: dict[UUID, Task] = {}  # left since the last save

    def __setitem__(self, task_id: UUID, task: Task) -> None:
        super().__setitem__(task_id, task)
        self.arrive(task)
        self.created.add(task_id)

    def pop(self, task_id, *default):
        task = super().pop(task_id, *default)
        if isinstance(task, Task):
            self._left(task)
        return task

    def __delitem__(self, task_id: UUID) -> None:
        task = self[task_id]
        super().__delitem__(task_id)
        self._left(task)

    def arrive(self, task: Task) -> None:
        """Count `task` as unfinished from now on (a new task, or one a reset revived)."""
        if not hasattr(task, "_redress_arrival"):
            task._redress_arrival = next(_arrivals)
        self.live[task.id] = task
        self.touched[task.id] = task

    def _left(self, task: Task) -> None:
        self.live.pop(task.id, None)
        self.touched.pop(task.id, None)
        if task.id in self.created:
            self.created.discard(task.id)  # never saved: nothing to remove
        else:
            self.removed[task.id] = task
        parent = self.get(task._parent)
        if parent is not None:  # its list of children changed
            self.touched[parent.id] = parent

    def compact(self, task: Task) -> None:
        """Drop a finished task spliced out of the tree (engine.compaction): its row stays."""
        super().pop(task.id, None)
        self.live.pop(task.id, None)
        self.touched.pop(task.id, None)
        self.created.discard(task.id)

    def unfinished(self) -> list[Task]:
        finished = [task_id for task_id, task in self.live.items() if task._state & FINISHED]
        for task_id in finished:
            del self.live[task_id]
        return list(self.live.values())

    def saved(self) -> None:
        """What is in memory now is what is stored."""
        self.touched = {task.id: task for task in self.unfinished()}
        self.created.clear()
        self.removed.clear()


class _Tracked:
    """What the tracked top workflow and its subprocesses share."""

    @property
    def tasks(self) -> TaskTable:
        return self._task_table

    @tasks.setter
    def tasks(self, value: dict) -> None:
        # SpiffWorkflow (and the store, when loading) assign plain dicts.
        self._task_table = value if isinstance(value, TaskTable) else TaskTable(value)

    def update_waiting_tasks(self) -> None:
        # SpiffWorkflow walks the tree after every completed task; only unfinished tasks can wait.
        waiting = [t for t in self.tasks.unfinished() if t._state == TaskState.WAITING]
        for task in _in_tree_order(waiting):
            if task._state == TaskState.WAITING:  # an earlier update may have moved it on
                task.task_spec._update(task)

    def get_tasks_iterator(self, first_task=None, **kwargs):
        # SpiffWorkflow's walk stops descending at depth 1000, which a long-running loop
        # reaches; the tracked steps have no such limit, so neither may anything else.
        kwargs.setdefault("max_depth", sys.maxsize)
        return super().get_tasks_iterator(first_task, **kwargs)

    def reset_from_task_id(self, task_id, *args, **kwargs):
        removed = super().reset_from_task_id(task_id, *args, **kwargs)
        top = self.top_workflow
        alive = {id(top), *(id(sp) for sp in top.subprocesses.values())}
        # Tasks of a subprocess the reset deleted never leave a table of the workflow.
        top.tasks.removed.update((t.id, t) for t in removed if id(t.workflow) not in alive)
        reindex(top)  # a reset brings finished tasks back to life
        return removed


class TrackedSubWorkflow(_Tracked, BpmnSubWorkflow):
    pass


class TrackedWorkflow(_Tracked, BpmnWorkflow):
    generation = 0  # counts re-indexings: after a reset, what was finished may not be any more

    def create_subprocess(self, my_task, spec_name):
        subprocess = TrackedSubWorkflow(self.subprocess_specs[spec_name], parent_task_id=my_task.id,
                                        top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def ready_tasks(self, within=None) -> list[Task]:
        """READY tasks of `within` (default: this workflow) and of the subprocesses below it,
        in the order SpiffWorkflow's walk from its root would find them."""
        within = within or self
        ready = [t for t in within.tasks.unfinished() if t._state == TaskState.READY]
        for sp in self.subprocesses.values():
            if sp is within:
                continue
            found = [t for t in sp.tasks.unfinished() if t._state == TaskState.READY]
            if found and _is_below(sp, within):  # a finished subprocess has nothing to look at
                ready += found
        return _in_tree_order(ready)

    def has_engine_work(self) -> bool:
        return any(not t.task_spec.manual for t in self.ready_tasks())

    def _do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        # SpiffWorkflow's loop, with the ready tasks taken from the unfinished ones.
        def update_workflow(wf):
            count = 0
            for task in self.ready_tasks(wf):
                if not task.task_spec.manual:
                    if will_complete_task is not None:
                        will_complete_task(task)
                    task.run()
                    count += 1
                    if did_complete_task is not None:
                        did_complete_task(task)
            return count

        active_subprocesses = self.get_active_subprocesses()
        for subprocess in sorted(active_subprocesses, key=lambda v: v.depth, reverse=True):
            count = None
            while count is None or count > 0:
                count = update_workflow(subprocess)
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)

        count = update_workflow(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active_subprocesses)


def register(registry) -> None:
    """Serialize tracked workflows exactly as SpiffWorkflow's own (they restore as those)."""
    registry.typenames[TrackedWorkflow] = registry.typenames[BpmnWorkflow]
    registry.typenames[TrackedSubWorkflow] = registry.typenames[BpmnSubWorkflow]


def _is_below(subprocess, workflow) -> bool:
    current = subprocess
    while current is not None and current is not workflow:
        current = current.parent_workflow
    return current is workflow


def is_tracked(workflow) -> bool:
    return isinstance(workflow, TrackedWorkflow)


def reindex(top: TrackedWorkflow) -> None:
    """Rebuild every table's view of unfinished tasks from the trees (after a load or a reset).

    Tasks are numbered afresh in depth-first order; what was touched since the last save
    stays touched (a task may have finished just before a reset)."""
    top.generation += 1
    for wf in [top, *top.subprocesses.values()]:
        wf.tasks.live = {}
    for task in _depth_first(top):
        task._redress_arrival = next(_arrivals)
        if not task._state & FINISHED:
            task.workflow.tasks.arrive(task)


def _depth_first(top: TrackedWorkflow):
    """Every task, parents first, a subprocess's tasks right after the task that runs it
    (the order of SpiffWorkflow's iterator, without its depth limit)."""
    stack = [top.task_tree]
    while stack:
        task = stack.pop()
        yield task
        stack.extend(reversed([c for c in task.children if c is not None]))
        subprocess = top.subprocesses.get(task.id)
        if subprocess is not None and subprocess.task_tree is not None:
            stack.append(subprocess.task_tree)
