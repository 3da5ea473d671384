"""Timers: the worker fires each due timer exactly once, also with several workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from processes.engine.models import Timer, utcnow
from processes.engine.runtime import Runtime
from processes.engine.worker import Worker


def _instances_with_timers(runtime, standin_files, agent, count):
    runtime.deploy(standin_files)
    for i in range(count):
        key = f"C-{i}"
        runtime.start("standin", key, {"channel": "phone", "rounds_done": 0})
        runtime.complete(runtime.open_tasks(key)[0].id, agent, {"subject": "Broken kettle", "severity": "low"})


@pytest.mark.postgres
def test_several_workers_fire_each_timer_once(runtime, standin_files, agent, db):
    _instances_with_timers(runtime, standin_files, agent, 6)
    workers = [Runtime(db, settings=runtime.settings) for _ in range(3)]
    counts = []

    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        def fire(rt):
            counts.append(rt.fire_due_timers())

        threads = [threading.Thread(target=fire, args=(rt,)) for rt in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(counts) == 6
    with db.session() as s:
        assert sorted({t.status for t in s.scalars(select(Timer))}) == ["fired"]
        assert len(s.scalars(select(Timer)).all()) == 6


def test_worker_sleeps_until_it_is_time_to_prepare_the_next_due_timers(runtime):
    worker = Worker(runtime, idle_poll=5.0, lead=0.5)
    now = utcnow()
    assert worker.sleep_seconds(None, now) == 5.0
    assert worker.sleep_seconds(now + timedelta(seconds=2), now) == 1.5  # woken `lead` ahead
    assert worker.sleep_seconds(now + timedelta(seconds=0.2), now) == 0.0
    assert worker.sleep_seconds(now - timedelta(seconds=3), now) == 0.0


def test_worker_loop_fires_and_stops(runtime, standin_files, agent, db):
    _instances_with_timers(runtime, standin_files, agent, 1)
    worker = Worker(Runtime(db, settings=runtime.settings), idle_poll=0.2)
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        thread = threading.Thread(target=worker.run)
        thread.start()
        for _ in range(50):
            with db.session() as s:
                if s.scalar(select(Timer.status)) == "fired":
                    break
            threading.Event().wait(0.1)
        worker.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    with db.session() as s:
        assert s.scalar(select(Timer.status)) == "fired"
