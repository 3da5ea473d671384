"""The rollups' write cost per engine step: walks the nine analytics test complaints through the real
process (tests/test_analytics.py) and prints, over every unit of work the analytics observer saw,
the rollup rows each wrote and the milliseconds the observer took (wall and its own CPU time).

    PYTHONPATH=$PWD .venv/bin/python tools/analytics_step_cost.py [DATABASE_URL]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from processes.complaints import analytics_rollup
from processes.engine.schema import upgrade


def main(url: str | None) -> dict:
    from tests.test_analytics import seed_database

    url = url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='redress-step-cost-')) / 'db.sqlite'}"
    upgrade(url)
    rows: list[int] = []
    millis: list[float] = []
    cpu: list[float] = []  # the observer's own CPU time: on a loaded machine wall time mostly measures the queue
    apply_delta, observe = analytics_rollup.apply_delta, analytics_rollup.observe

    def counting_apply(*args, **kwargs):
        n = apply_delta(*args, **kwargs)
        rows.append(n)
        return n

    def timed_observe(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.thread_time()
        observe(*args, **kwargs)
        millis.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)

    analytics_rollup.apply_delta = counting_apply
    analytics_rollup.observe = timed_observe
    try:
        seed_database(url)
    finally:
        analytics_rollup.apply_delta, analytics_rollup.observe = apply_delta, observe
    writing = [n for n in rows if n]  # the observer skips units that change nothing that counts
    return {"database": url.split("://")[0], "steps": len(millis), "steps_writing": len(writing),
            "rows_total": sum(rows), "rows_per_step_mean": round(sum(rows) / len(millis), 1),
            "rows_per_writing_step_median": statistics.median(writing), "rows_max": max(rows),
            "observer_ms_median": round(statistics.median(millis), 2),
            "observer_ms_mean": round(statistics.mean(millis), 2), "observer_ms_max": round(max(millis), 1),
            "observer_cpu_ms_median": round(statistics.median(cpu), 2), "observer_cpu_ms_total": round(sum(cpu), 1)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None)))
