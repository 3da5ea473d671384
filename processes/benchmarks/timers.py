"""`redress bench timers`: how late timers fire when many come due at the same instant.

Per round, each side (SQLite with one worker, as SQLite has one writer; PostgreSQL with N
worker processes) gets a fresh database, its workers started and idle, then `count`
instances whose timers are all due at one instant a few seconds ahead. Lateness is from a
timer's `due_at` to the commit of the transaction that fired it (its `timer_fired` audit
entry is written as that transaction's last statement); `p99_run_s` is the p99 of
`fired_at`, when the engine ran it, for comparison. The sides alternate round by round (the machine is
shared), every timer must fire exactly once, and the target is checked here: the median over
rounds of each side's p99 under 1 s, else `redress bench timers` exits 1.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

BASE = "postgresql://postgres@127.0.0.1:5432/test"
P99_TARGET_S = 1.0
AT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
  <bpmn:process id="at" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Begin" targetRef="Wait"/>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Wait" targetRef="Count"/>
    <bpmn:scriptTask id="Count"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:script>runs = runs + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Count" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def run(database_url: str | None, count: int = 200, workers: int = 4, rounds: int = 3) -> dict:
    sides = {"sqlite": [], "postgresql": []}
    for _ in range(rounds):
        for side, runs in sides.items():  # alternating: SQLite, PostgreSQL, SQLite, ...
            runs.append(_one_round(side, database_url, count, 1 if side == "sqlite" else workers))
    result = {"timers": count, "workers": {"sqlite": 1, "postgresql": workers}, "rounds": sides,
              "p99_s_median": {side: round(statistics.median(r["p99_s"] for r in runs), 3)
                               for side, runs in sides.items()},
              "target_p99_s": P99_TARGET_S}
    result["missed_targets"] = missed_targets(result)
    return result


def missed_targets(result: dict) -> list[str]:
    missed = [f"{side}: p99 {p99} s >= {P99_TARGET_S} s" for side, p99 in result["p99_s_median"].items()
              if p99 >= P99_TARGET_S]
    for side, runs in result["rounds"].items():
        for each in runs:
            if not each["exactly_once"]:
                missed.append(f"{side}: {each['fired']} of {result['timers']} timers fired once")
    return missed


def lateness_summary(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50_s": round(statistics.median(values), 3), "p99_s": round(p99(values), 3),
            "max_s": round(values[-1], 3)}


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _one_round(side: str, database_url: str | None, count: int, workers: int) -> dict:
    from processes.engine.database import Database
    from processes.engine.schema import upgrade

    url, drop = _fresh(side, database_url)
    try:
        upgrade(url)
        pool = WorkerProcesses(url, workers)
        try:
            db = Database(url)
            made, due = make_due_timers(db, count)
            _wait_until(due)
            cpu_before = pool.cpu_seconds()
            wait_until_fired(db, count, 60)
            cpu = pool.cpu_seconds() - cpu_before
        finally:
            pool.stop()
        fired, lateness, run_lateness = fired_once_and_lateness(db, due)
        db.dispose()
    finally:
        drop()
    # The workers' own CPU while firing (the database server's is not in it): with the lateness,
    # it tells a slow engine from a machine busier than its cores.
    return {"making_s": round(made, 2), "fired": fired, "exactly_once": fired == count,
            **lateness_summary(lateness), "p99_run_s": round(p99(run_lateness), 3), "workers_cpu_s": round(cpu, 2)}


def _fresh(side: str, database_url: str | None) -> tuple[str, callable]:
    if side == "sqlite":
        folder = tempfile.TemporaryDirectory(prefix="redress-bench-timers-")
        return f"sqlite:///{Path(folder.name) / 'bench.db'}", folder.cleanup
    base = database_url or BASE
    name = f"redress_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.rsplit("/", 1)[0] + "/" + name, drop


def make_due_timers(db, count: int) -> tuple[float, object]:
    """`count` instances whose timers are all due at one instant; (seconds making them took, the instant).

    The instant is far enough ahead for making them to finish first: ten probe instances (due
    in a day, so they never fire here) measure what one start costs on this machine now."""
    from processes.engine.models import utcnow
    from processes.engine.runtime import Runtime

    runtime = Runtime(db, settings={})
    runtime.deploy({"at.bpmn": AT})
    began = time.monotonic()
    later = (utcnow() + timedelta(days=1)).isoformat()
    for i in range(10):
        runtime.start("at", f"PROBE-{i}", {"due": later, "runs": 0})
    per_start = (time.monotonic() - began) / 10
    due = utcnow() + timedelta(seconds=2 + 2 * per_start * count)
    began = time.monotonic()
    for i in range(count):
        runtime.start("at", f"AT-{i}", {"due": due.isoformat(), "runs": 0})
    made = time.monotonic() - began
    if utcnow() > due - timedelta(seconds=0.5):
        raise RuntimeError(f"making {count} timers took {made:.1f} s, past the instant they are due")
    return made, due


def _wait_until(instant) -> None:
    from processes.engine.models import utcnow

    while utcnow() < instant:
        time.sleep(min(0.05, max(0.0, (instant - utcnow()).total_seconds())))


def wait_until_fired(db, count: int, seconds: float) -> None:
    from processes.engine.models import Timer

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with db.session() as s:
                if s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired")) >= count:
                    return
        except OperationalError:  # the fault test ends every connection, the watcher's own included
            db.dispose()
        time.sleep(0.1)


def fired_once_and_lateness(db, due) -> tuple[int, list[float], list[float]]:
    """How many timers due at `due` fired exactly once (audited once, row fired), their lateness
    to the commit that fired them, and to the engine's run of them (`fired_at`)."""
    from processes.engine.models import Timer

    with db.session() as s:
        timers = s.scalars(select(Timer).where(Timer.due_at <= due)).all()
    committed = commit_times(db)
    once = sum(1 for t in timers if t.status == "fired" and len(committed.get(t.instance_id, ())) == 1)
    lateness = [(committed[t.instance_id][0] - t.due_at).total_seconds() for t in timers
                if committed.get(t.instance_id)]
    ran = [(t.fired_at - t.due_at).total_seconds() for t in timers if t.fired_at is not None]
    return once, lateness or [float("inf")], ran or [float("inf")]


def commit_times(db) -> dict[int, list]:
    """Each instance's `timer_fired` audit entries' times: the audit chain is written as the last
    statement of the transaction that fired the timer, just before its COMMIT."""
    from processes.engine.models import AuditEntry

    times: dict[int, list] = {}
    with db.session() as s:
        for instance_id, at in s.execute(select(AuditEntry.instance_id, AuditEntry.at)
                                         .where(AuditEntry.action == "timer_fired")):
            times.setdefault(instance_id, []).append(at)
    return times


def _worker_process(db_url: str, stop, outages, ready) -> None:
    """One `redress worker` as its own process (workers do not share a GIL in production)."""
    import processes.app  # noqa: F401 - handlers and helpers, as the CLI registers them
    from processes.engine.database import Database
    from processes.engine.runtime import Runtime
    from processes.engine.worker import Worker

    db = Database(db_url)
    worker = Worker(Runtime(db, settings={}), idle_poll=0.2, min_backoff=0.1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    ready.put(1)
    stop.wait()
    worker.stop()
    thread.join(timeout=10)
    outages.put(worker.outages)
    db.dispose()


class WorkerProcesses:
    """`count` worker processes on one database (also used by the worker fault tests)."""

    def __init__(self, db_url: str, count: int):
        context = multiprocessing.get_context("spawn")
        self.stop_event, self.outages, ready = context.Event(), context.Queue(), context.Queue()
        self.processes = [context.Process(target=_worker_process, args=(db_url, self.stop_event, self.outages, ready),
                                          daemon=True) for _ in range(count)]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            ready.get(timeout=120)  # each has imported everything and is running

    def cpu_seconds(self) -> float:
        """User and system CPU the worker processes have used so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.processes)

    def stop(self) -> int:
        """Stop them all; the number of outages they saw."""
        self.stop_event.set()
        try:
            return sum(self.outages.get(timeout=20) for _ in self.processes)
        finally:
            for process in self.processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()  # ours, started here
