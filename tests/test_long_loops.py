"""Loops of any length (issue 11, failure 7): SpiffWorkflow's recursive walks failed with
RecursionError at about the 330th round of a gateway loop. A loop of 5,000 rounds runs to
its end, and the instance loads from its rows and carries on afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from processes.engine.runtime import Runtime

LOOP = (Path(__file__).resolve().parent / "fixtures" / "engine" / "long_loop.bpmn").read_text()


def test_a_gateway_loop_of_5000_rounds_runs_to_the_end_and_loads_again(db):
    five_thousand = LOOP.replace("i &lt; 700", "i &lt; 5000").replace("missing_variable + 1", "done = True")
    runtime = Runtime(db, settings={})
    runtime.deploy({"long_loop.bpmn": five_thousand})
    began = time.perf_counter()
    instance_id = runtime.start("long_loop", "L-5000", {"i": 0})
    took = time.perf_counter() - began
    instance = runtime.instance_for("L-5000")
    assert instance.status == "completed", instance.error
    cold = Runtime(db, settings={}, cache_size=0)
    workflow = cold.load_workflow(instance_id)  # a cold load walks the whole tree: no recursion limit
    assert workflow.completed and workflow.data["i"] == 5000 and workflow.data["done"] is True
    print(f"\n5,000 rounds in {took:.1f} s")


@pytest.mark.postgres
def test_on_postgresql_the_task_rows_are_vacuumed_before_dead_versions_pile_up(db):
    """Compaction rewrites task rows; their dead versions slow a cold load until a vacuum removes them
    (docs/deploy.md). Autovacuum's default (20 % of the table dead) comes far too late for this table."""
    with db.engine.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'instance_tasks'")).scalar()
    settings = dict(option.split("=", 1) for option in options or [])
    assert float(settings["autovacuum_vacuum_scale_factor"]) <= 0.01
    assert int(settings["autovacuum_vacuum_threshold"]) <= 1000
