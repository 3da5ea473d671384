"""`redress bench inbox`: how fast an inbox page answers with 100,000 open tasks among 1,000,000
complaints: every sort, filter and saved view, page 1 and deep, the query plan of each, and whole
HTML pages. Targets: 20 ms median for the worst query, 40 ms for the worst page."""

from __future__ import annotations

import json
import random
import re
import shutil
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


QUERY_TARGET_MS = 20
PAGE_TARGET_MS = 40
SORT_KEYS = ("priority", "due", "created", "reference", "task", "category", "channel", "department", "assignee",
             "level")


def seed_complaints(db, complaints: int, now: datetime, rng: random.Random) -> None:
    """Bulk-insert closed and open complaint rows: the inbox must not get slower with their number."""
    from sqlalchemy import insert

    from processes.complaints.records import Complaint

    batch: list[dict] = []
    with db.write_engine.begin() as conn:
        for n in range(complaints):
            received = now - timedelta(minutes=rng.randint(0, 730 * 24 * 60))
            batch.append({"reference": f"TS-20250101-C{n:07d}", "channel": rng.choice(CHANNELS),
                          "received_at": received, "customer_name": "客户", "subject": f"complaint {n}",
                          "description": "", "category": rng.choice(CATEGORIES), "severity": rng.choice(SEVERITIES),
                          "safety_issue": False, "escalation_level": 1, "status": "closed",
                          "closed_at": received + timedelta(days=3)})
            if len(batch) == 20_000:
                conn.execute(insert(Complaint), batch)
                batch = []
        if batch:
            conn.execute(insert(Complaint), batch)


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
                "lane": department, "department": department, "status": "open",
                "assignee": assignee, "category": rng.choice(CATEGORIES), "severity": rng.choice(SEVERITIES),
                "channel": rng.choice(CHANNELS), "summary": f"投诉 complaint {n} about order SO-{n:06d}",
                "created_at": created, "due_at": due,
                "name": rng.choice(("调查处理", "登记投诉", "主管确认策略", "调解")),
                "priority": rng.choices((1, 2, 3, 4, 5), (5, 15, 40, 25, 15))[0],
                "escalation_level": rng.choices((1, 2, 3, 4), (85, 10, 4, 1))[0],
            })
            if len(batch) == 10_000:
                conn.execute(insert(HumanTask), batch)
                batch = []
        if batch:
            conn.execute(insert(HumanTask), batch)
    settle(db)


def settle(db) -> None:
    """The database as a live one is after its bulk of writes: fresh statistics and, on PostgreSQL,
    vacuumed as autovacuum does after inserts (the visibility map that lets an index answer alone)."""
    if db.is_sqlite:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE human_tasks, complaints")


def timed(fn, repeat: int) -> dict:
    runs = []
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = fn()
        runs.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2), "rows": rows}


def cases() -> dict:
    """Every scope, filter, combination and sort a person can pick, by name."""
    from processes.engine.actors import Actor
    from processes.engine.inbox import Filters

    worker = Actor("product_3", "product", "department_staff")
    supervisor = Actor("lead", "customer_service", "supervisor")
    day = datetime.now(UTC).date()
    found = {
        "mine": (worker, "mine", Filters(), None),
        "group": (worker, "group", Filters(), None),
        "all (supervisor)": (supervisor, "all", Filters(), None),
        "all + category": (supervisor, "all", Filters(category="product_quality"), None),
        "all + severity": (supervisor, "all", Filters(severity="critical"), None),
        "all + channel": (supervisor, "all", Filters(channel="phone"), None),
        "all + sla breached": (supervisor, "all", Filters(sla="breached"), None),
        "all + sla at_risk": (supervisor, "all", Filters(sla="at_risk"), None),
        "all + sla on_time": (supervisor, "all", Filters(sla="on_time"), None),
        "all + department": (supervisor, "all", Filters(department="technical"), None),
        "all + assignee": (supervisor, "all", Filters(assignee="sales_7"), None),
        "all + unassigned": (supervisor, "all", Filters(status="unassigned"), None),
        "all + level 3": (supervisor, "all", Filters(level="3"), None),
        "all + arrived last 2 days": (supervisor, "all", Filters(created_from=day - timedelta(days=2)), None),
        "all + text (reference)": (supervisor, "all", Filters(text="TS-20261122-B004242"), None),
        "all + text (part of a reference)": (supervisor, "all", Filters(text="B004242"), None),
        "all + text (words)": (supervisor, "all", Filters(text="complaint 4242 about"), None),
        "all + text (a hundred tasks)": (supervisor, "all", Filters(text="SO-0042"), None),
        "all + text (two Chinese characters)": (supervisor, "all", Filters(text="投诉"), None),
        "group + text (words)": (worker, "group", Filters(text="order SO-0"), None),
        "group + category + severity": (worker, "group", Filters(category="product_quality", severity="high"), None),
        "all + department + severity + sla at_risk": (
            supervisor, "all", Filters(department="product", severity="high", sla="at_risk"), None),
    }
    for key in SORT_KEYS:
        for sort in (key, "-" + key):
            found[f"all, sorted by {sort}"] = (supervisor, "all", Filters(), sort)
            found[f"group, sorted by {sort}"] = (worker, "group", Filters(), sort)
        found[f"all + severity, sorted by {key}"] = (supervisor, "all", Filters(severity="critical"), key)
    return found


def plan_of(db, query) -> tuple[bool, str]:
    """(read from an index?, the plan) of one statement, on SQLite or PostgreSQL."""
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        if db.is_sqlite:
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
            # The FTS table's MATCH reads its own index ("VIRTUAL TABLE INDEX 0:M..."), not a scan.
            scans = re.findall(r"SCAN (\w+)(?: VIRTUAL TABLE INDEX \d+:(\w))?", plan)
            scanned = all(table != "human_tasks" and (table != "human_tasks_fts" or match == "M")
                          for table, match in scans)
            return scanned and ("USING" in plan or "CONSTANT ROW" in plan), plan
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").fetchall()
    plan = " | ".join(row[0].strip() for row in rows)
    return "Seq Scan on human_tasks" not in plan, plan


def deep_boundary(db, actor, scope, filters, sort, now, deep_page: int) -> str | None:
    """The id of the row the deep page's Next link seeks after (found untimed). A view with fewer
    pages has its last page timed instead: the deepest a person can reach, and its seek still walks
    to the end of the index range to learn there is no next page. None: the view has one page."""
    from processes.engine.inbox import filtered_query, ordered
    from processes.engine.models import HumanTask

    with db.session() as s:
        query = ordered(filtered_query(actor, scope, filters, now, s, page=True), sort)
        ids = list(s.scalars(query.with_only_columns(HumanTask.id).limit((deep_page - 1) * 50 + 1)))
    start = (deep_page - 1) * 50 if len(ids) > (deep_page - 1) * 50 else (len(ids) - 1) // 50 * 50
    return ids[start - 1] if start > 0 else None


def already_seeded(db) -> bool:
    from sqlalchemy import select

    from processes.engine.models import ProcessDefinition

    with db.session() as s:
        return s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.process_key == "bench")) is not None


def run(database_url: str | None, tasks: int, repeat: int, deep_page: int, complaints: int = 1_000_000,
        keep: bool = False, reuse: bool = False) -> dict:
    from processes.engine.database import Database
    from processes.engine.inbox import (
        boundary_of,
        count_tasks,
        filtered_query,
        list_tasks,
        ordered,
        seek_queries,
    )
    from processes.engine.schema import upgrade

    workdir = None
    if database_url is None:
        workdir = tempfile.mkdtemp(prefix="redress-bench-inbox-")
        database_url = f"sqlite:///{Path(workdir) / 'bench.db'}"
    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    reused = reuse and already_seeded(db)
    if not reused:
        seed_complaints(db, complaints, now, random.Random(11))
        seed(db, tasks, now, random.Random(7))
    else:
        settle(db)  # a migration since may have made indexes
    seeded_s = time.perf_counter() - started

    results, plans = {}, {}
    for label, (actor, scope, filters, sort) in cases().items():
        # The deep page as its Next link reaches it: sought after the last row of the page before.
        boundary_id = deep_boundary(db, actor, scope, filters, sort, now, deep_page)
        for page in (1, deep_page):
            after = boundary_id if page > 1 else None

            def one_page(actor=actor, scope=scope, filters=filters, page=page, sort=sort, after=after):
                with db.session() as s:
                    return len(list_tasks(s, actor, scope, page, 50, filters=filters, now=now, sort=sort,
                                          after=after).tasks)

            results[f"{label}, page {page}"] = timed(one_page, repeat)
            with db.session() as s:
                query = filtered_query(actor, scope, filters, now, s, page=True)
                boundary = boundary_of(s, sort, after) if after else None
            statements = ([ordered(query, sort)] if boundary is None
                          else seek_queries(query, sort, boundary, db.is_sqlite))
            checked = [plan_of(db, statement.limit(51)) for statement in statements]
            plans[f"{label}, page {page}"] = (all(ok for ok, _ in checked), " || ".join(p for _, p in checked))

        def one_count(actor=actor, scope=scope, filters=filters):
            with db.session() as s:
                return count_tasks(s, filtered_query(actor, scope, filters, now, s))[0]

        results[f"{label}, count"] = timed(one_count, repeat)
    db.dispose()
    pages = http_pages(database_url, repeat, deep_page)
    if workdir is not None and not keep:  # the fresh SQLite file is the bench's own: 0.5 GB at the full size
        shutil.rmtree(workdir, ignore_errors=True)
    worst = max(results, key=lambda k: results[k]["median_ms"])
    worst_page = max(pages, key=lambda k: pages[k]["median_ms"])
    unindexed = {k: plan for k, (ok, plan) in plans.items() if not ok}
    missed = []
    if results[worst]["median_ms"] >= QUERY_TARGET_MS:
        missed.append(f"worst query {worst}: {results[worst]['median_ms']} ms >= {QUERY_TARGET_MS} ms")
    if pages[worst_page]["median_ms"] >= PAGE_TARGET_MS:
        missed.append(f"worst page {worst_page}: {pages[worst_page]['median_ms']} ms >= {PAGE_TARGET_MS} ms")
    if unindexed:
        missed.append(f"{len(unindexed)} queries not answered from an index")
    return {"database": db.url.split("://")[0], "open_tasks": tasks, "complaints": complaints, "per_page": 50,
            "seed_seconds": round(seeded_s, 1), "reused_seed": reused, "repeat": repeat,
            "kept_database_url": database_url if keep and workdir is not None else None,
            "worst_query": {"case": worst, **results[worst]}, "worst_median_ms": results[worst]["median_ms"],
            "worst_page": {"case": worst_page, **pages[worst_page]}, "target_ms": QUERY_TARGET_MS,
            "page_target_ms": PAGE_TARGET_MS, "queries_checked": len(plans), "not_from_an_index": unindexed,
            "missed_targets": missed, "pages": {**results, **pages}}


def http_pages(database_url: str, repeat: int, deep_page: int) -> dict:
    """Whole inbox pages as the browser gets them: session, query, names, template."""
    from sqlalchemy import select

    from processes.engine.models import User
    from processes.engine.users import add_user
    from web import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.extensions["redress.db"].write_session.begin() as s:
        if s.scalar(select(User.id).where(User.username == "bench_lead")) is None:  # a reused seed has it
            add_user(s, "bench_lead", "customer_service", "supervisor", "bench-password")
    client = app.test_client()
    client.post("/login", data={"username": "bench_lead", "password": "bench-password"})
    results = {}
    from processes.engine import saved_views
    from processes.engine.actors import Actor

    with app.extensions["redress.db"].write_session.begin() as s:
        lead = Actor("bench_lead", "customer_service", "supervisor")
        for name, query in (("critical", {"scope": "all", "severity": "critical"}),
                            ("breached", {"scope": "all", "sla": "breached"}),
                            ("level 2", {"scope": "all", "level": "2"})):
            saved_views.save(s, lead, name, query, shared=True)
    lead = Actor("bench_lead", "customer_service", "supervisor")
    from processes.engine.inbox import Filters

    boundary = deep_boundary(app.extensions["redress.db"], lead, "all", Filters(), None, datetime.now(UTC), deep_page)
    for label, query in (("HTML page: all", "/?scope=all"),
                         ("HTML page: all, deep", f"/?scope=all&page={deep_page}&after={boundary}"),
                         ("HTML page: all + sla at_risk", "/?scope=all&sla=at_risk"),
                         ("HTML page: all + category + severity", "/?scope=all&category=other&severity=high"),
                         ("HTML page: all sorted by created, newest first", "/?scope=all&sort=-created"),
                         ("HTML page: all + level 2 + unassigned", "/?scope=all&level=2&status=unassigned"),
                         ("HTML rows refresh: all", "/inbox/rows?scope=all"),
                         ("HTML views bar counts (fetched after the page)", "/inbox/view-counts")):
        def one_page(query=query):
            response = client.get(query)
            assert response.status_code == 200, response.status_code
            body = response.get_data(as_text=True)
            return body.count('class="sla-row ') or body.count("data-view-count")

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
    @click.option("--complaints", default=1_000_000, show_default=True, help="Complaint rows seeded beside the tasks.")
    @click.option("--keep", is_flag=True,
                  help="Keep the fresh SQLite file (its URL is in the report as kept_database_url) for --reuse.")
    @click.option("--reuse", is_flag=True,
                  help="If --database-url already holds a bench seed (a --keep file, or a database an earlier "
                       "run seeded), time it without seeding again (seeding 1,000,000 complaints takes minutes).")
    def bench_inbox(database_url: str | None, tasks: int, repeat: int, deep_page: int, complaints: int,
                    keep: bool, reuse: bool) -> None:
        """Seed complaints and open tasks into a fresh database and time every inbox query (sorts,
        filters, counts, page 1 and deep) and whole pages; check each query's plan reads an index.
        Exits 1 when a target is missed."""
        report = run(database_url, tasks, repeat, deep_page, complaints, keep, reuse)
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        if report["missed_targets"]:
            raise SystemExit(1)

    if isinstance(bench, click.Group):
        bench.add_command(bench_inbox)
    else:
        main.add_command(bench_inbox, "bench-inbox")
