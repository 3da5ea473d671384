"""`redress bench inbox`: how fast an inbox page answers with 100,000 open tasks."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

DEPARTMENTS = ("customer_service", "sales", "product", "technical", "after_sales", "management")
CATEGORIES = ("product_quality", "service_attitude", "logistics_delivery", "sales_misrepresentation",
              "price_billing", "technical_fault", "after_sales_repair", "other")
SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("phone", "email", "web", "social_media", "walk_in", "letter", "api")


def seed(db, tasks: int, now: datetime, rng: random.Random) -> None:
    """Bulk-insert `tasks` open human-task rows (one executemany per 10,000 rows)."""
    from sqlalchemy import insert

    from processes.engine.models import HumanTask, ProcessDefinition, ProcessInstance

    with db.write_session.begin() as s:
        definition = ProcessDefinition(process_key="bench", version=1, sha256="0" * 64, files={}, spec={},
                                       subprocess_specs={})
        s.add(definition)
        s.flush()
        instance = ProcessInstance(definition_id=definition.id, process_key="bench", business_key="BENCH",
                                   state={}, awaiting=[])
        s.add(instance)
        s.flush()
        instance_id = instance.id
    batch: list[dict] = []
    with db.write_engine.begin() as conn:
        for n in range(tasks):
            department = DEPARTMENTS[n % len(DEPARTMENTS)]
            created = now - timedelta(minutes=rng.randint(0, 14 * 24 * 60))
            due = None if rng.random() < 0.05 else created + timedelta(minutes=rng.randint(60, 15 * 24 * 60))
            assignee = None if rng.random() < 0.3 else f"{department}_{rng.randint(1, 20)}"
            batch.append({
                "id": f"{n:08d}-0000-4000-8000-{rng.getrandbits(48):012x}", "instance_id": instance_id,
                "business_key": f"TS-20261122-B{n:06d}", "process_key": "bench", "bpmn_id": "Task_Investigate",
                "name": "调查处理", "lane": department, "department": department, "status": "open",
                "assignee": assignee, "category": rng.choice(CATEGORIES), "severity": rng.choice(SEVERITIES),
                "channel": rng.choice(CHANNELS), "summary": f"投诉 complaint {n} about order SO-{n:06d}",
                "created_at": created, "due_at": due,
            })
            if len(batch) == 10_000:
                conn.execute(insert(HumanTask), batch)
                batch = []
        if batch:
            conn.execute(insert(HumanTask), batch)
    # Fresh statistics, as a live database has them (autovacuum would catch up later).
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE" if db.is_sqlite else "ANALYZE human_tasks")


def timed(fn, repeat: int) -> dict:
    runs = []
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = fn()
        runs.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2), "rows": rows}


def run(database_url: str | None, tasks: int, repeat: int, deep_page: int) -> dict:
    from processes.engine.actors import Actor
    from processes.engine.database import Database
    from processes.engine.inbox import Filters, list_tasks
    from processes.engine.schema import upgrade

    workdir = None
    if database_url is None:
        workdir = tempfile.mkdtemp(prefix="redress-bench-inbox-")
        database_url = f"sqlite:///{Path(workdir) / 'bench.db'}"
    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed(db, tasks, now, random.Random(7))
    seeded_s = time.perf_counter() - started

    worker = Actor("product_3", "product", "department_staff")
    supervisor = Actor("lead", "customer_service", "supervisor")
    cases = {
        "mine": (worker, "mine", Filters()),
        "group": (worker, "group", Filters()),
        "all (supervisor)": (supervisor, "all", Filters()),
        "all + category": (supervisor, "all", Filters(category="product_quality")),
        "all + severity": (supervisor, "all", Filters(severity="critical")),
        "all + channel": (supervisor, "all", Filters(channel="phone")),
        "all + sla breached": (supervisor, "all", Filters(sla="breached")),
        "all + sla at_risk": (supervisor, "all", Filters(sla="at_risk")),
        "all + sla on_time": (supervisor, "all", Filters(sla="on_time")),
        "all + text (reference)": (supervisor, "all", Filters(text="TS-20261122-B004242")),
        "all + text (part of a reference)": (supervisor, "all", Filters(text="B004242")),
        "all + text (words)": (supervisor, "all", Filters(text="complaint 4242 about")),
        "group + text (words)": (worker, "group", Filters(text="order SO-0")),
        "group + category + severity": (worker, "group", Filters(category="product_quality", severity="high")),
    }
    results = {}
    for label, (actor, scope, filters) in cases.items():
        for page in (1, deep_page):
            def one_page(actor=actor, scope=scope, filters=filters, page=page):
                with db.session() as s:
                    return len(list_tasks(s, actor, scope, page, 50, filters=filters, now=now).tasks)

            results[f"{label}, page {page}"] = timed(one_page, repeat)
    db.dispose()
    results.update(http_pages(database_url, repeat, deep_page))
    worst = max(r["median_ms"] for r in results.values())
    return {"database": db.url.split("://")[0], "open_tasks": tasks, "per_page": 50,
            "seed_seconds": round(seeded_s, 1), "repeat": repeat, "worst_median_ms": worst,
            "target_ms": 100, "pages": results}


def http_pages(database_url: str, repeat: int, deep_page: int) -> dict:
    """Whole inbox pages as the browser gets them: session, query, names, template."""
    from processes.engine.users import add_user
    from web import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.extensions["redress.db"].write_session.begin() as s:
        add_user(s, "bench_lead", "customer_service", "supervisor", "bench-password")
    client = app.test_client()
    client.post("/login", data={"username": "bench_lead", "password": "bench-password"})
    results = {}
    for label, query in (("HTML page: all", "/?scope=all"), ("HTML page: all, deep", f"/?scope=all&page={deep_page}"),
                         ("HTML page: all + sla at_risk", "/?scope=all&sla=at_risk"),
                         ("HTML page: all + category + severity", "/?scope=all&category=other&severity=high")):
        def one_page(query=query):
            response = client.get(query)
            assert response.status_code == 200, response.status_code
            return response.get_data(as_text=True).count('class="sla-row')

        client.get(query)  # warm the template cache
        results[label] = timed(one_page, repeat)
    app.extensions["redress.db"].dispose()
    return results


def register(main: click.Group) -> None:
    bench = main.commands.get("bench")

    @click.command("inbox")
    @click.option("--database-url", default=None, help="Default: a fresh SQLite file (must be empty).")
    @click.option("--tasks", default=100_000, show_default=True)
    @click.option("--repeat", default=5, show_default=True)
    @click.option("--deep-page", default=40, show_default=True, help="The deep page to time besides page 1.")
    def bench_inbox(database_url: str | None, tasks: int, repeat: int, deep_page: int) -> None:
        """Seed open tasks into a fresh database and time inbox pages: scopes, filters, page 1 and deep."""
        click.echo(json.dumps(run(database_url, tasks, repeat, deep_page), indent=2, ensure_ascii=False))

    if isinstance(bench, click.Group):
        bench.add_command(bench_inbox)
    else:
        main.add_command(bench_inbox, "bench-inbox")
