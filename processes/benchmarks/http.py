"""`redress bench http`: the task cycle over HTTP against several web processes on PostgreSQL.

Starts `redress serve --workers N` on a fresh database (or the one given), seeds open tasks, and
drives C clients, each a process of its own with a keep-alive connection, through what an agent
does: list the department's unassigned tasks, claim one, open it, complete it. Another client
may take the same task first: its 409 is expected and counted apart. Prints completions per
second, latency percentiles per request kind, errors by status and the server's CPU seconds per
completion (all web processes, read from /proc).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

LOOPS = Path(__file__).resolve().parent / "loops"
BASE = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {"completions_per_s_at_16_clients_at_least": 150.0, "complete_p95_ms_at_8_clients_at_most": 100.0}
ROUND = {"findings": "one more round", "again": True}


def run(database_url: str | None, workers: int, threads: int, clients: tuple[int, ...], seconds: float,
        instances: int = 300) -> dict:
    url, drop = (database_url, None) if database_url else _fresh_database()
    try:
        tokens = _seed(url, max(clients or (1,)), instances)
        port = _free_port()
        server = _start_server(url, port, workers, threads)
        try:
            levels = [_drive(port, tokens[:count], seconds, server.pid) for count in clients]
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if drop:
            drop()
    result = {"database": "postgresql", "workers": workers, "threads": threads, "seconds_per_level": seconds,
              "levels": levels, "targets": TARGETS}
    result["missed_targets"] = missed_targets(result)
    return result


def missed_targets(result: dict) -> list[str]:
    missed = []
    for level in result["levels"]:
        if level["clients"] == 16 and level["completions_per_s"] < TARGETS["completions_per_s_at_16_clients_at_least"]:
            missed.append(f"{level['completions_per_s']} completions/s at 16 clients < 150")
        if level["clients"] == 8 and level["latency_ms"]["complete"]["p95"] > TARGETS[
                "complete_p95_ms_at_8_clients_at_most"]:
            missed.append(f"complete p95 {level['latency_ms']['complete']['p95']} ms at 8 clients > 100")
        unexpected = {status: n for status, n in level["errors"].items() if status != "409"}
        if unexpected:
            missed.append(f"unexpected errors at {level['clients']} clients: {unexpected}")
    return missed


# -- set-up -------------------------------------------------------------------------------


def _fresh_database() -> tuple[str, callable]:
    name = f"redress_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(BASE.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return BASE.rsplit("/", 1)[0] + "/" + name, drop


def _seed(url: str, clients: int, instances: int) -> list[str]:
    """The schema, the loop process, one agent per client with a token, and open tasks."""
    from processes.app import build_runtime
    from processes.config import Settings
    from processes.engine.definitions import read_files
    from processes.engine.schema import upgrade
    from processes.engine.users import add_user, create_token

    upgrade(url)
    runtime = build_runtime(Settings(database_url=url), process_settings={}, mail=False)
    runtime.deploy(read_files(LOOPS))
    tokens = []
    with runtime.db.write_session.begin() as session:
        for i in range(clients):
            name = f"bench.agent{i}.{uuid.uuid4().hex[:6]}"
            add_user(session, name, "customer_service", "agent", uuid.uuid4().hex)
            tokens.append(create_token(session, name))
    for i in range(instances):
        runtime.start("gateway_loop", f"BENCH-{uuid.uuid4().hex[:8]}-{i}", {})
    runtime.db.dispose()
    return tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "REDRESS_DATABASE_URL": url, "REDRESS_SECRET_KEY": uuid.uuid4().hex}
    redress = Path(sys.executable).with_name("redress")
    server = subprocess.Popen([str(redress), "serve", "--port", str(port), "--workers", str(workers),
                               "--threads", str(threads)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                conn.close()
                time.sleep(1.0)  # let every web process finish booting
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


# -- the load -----------------------------------------------------------------------------


def _drive(port: int, tokens: list[str], seconds: float, server_pid: int) -> dict:
    with multiprocessing.get_context("spawn").Pool(len(tokens)) as pool:
        # Clients start together once every process is up: starting Python processes is not load.
        start_at = pool.apply(time.monotonic) + 0.5 + 0.2 * len(tokens)
        cpu_before = _cpu_seconds(server_pid)
        results = pool.starmap(_client, [(port, token, seconds, i, start_at) for i, token in enumerate(tokens)])
    cpu = _cpu_seconds(server_pid) - cpu_before
    # The clock runs from the first client's start to the last one's end (CLOCK_MONOTONIC is system-wide).
    elapsed = max(r["ended"] for r in results) - min(r["began"] for r in results)
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    completions = 0
    for result in results:
        completions += result["completions"]
        for kind, values in result["latencies"].items():
            latencies.setdefault(kind, []).extend(values)
        for status, n in result["errors"].items():
            errors[status] = errors.get(status, 0) + n
    return {
        "clients": len(tokens),
        "completions": completions,
        "completions_per_s": round(completions / elapsed, 1),
        "latency_ms": {kind: _percentiles(values) for kind, values in sorted(latencies.items())},
        "errors": errors,
        "server_cpu_s_per_completion": round(cpu / completions, 4) if completions else None,
    }


def _client(port: int, token: str, seconds: float, seed: int, start_at: float) -> dict:
    rng = random.Random(seed)
    time.sleep(max(0.0, start_at - time.monotonic()))
    began = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept-Language": "en"}
    latencies: dict[str, list[float]] = {"list": [], "claim": [], "open": [], "complete": []}
    errors: dict[str, int] = {}
    completions = 0
    deadline = began + seconds

    def call(kind: str, method: str, path: str, body: dict | None = None):
        began = time.perf_counter()
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies[kind].append(time.perf_counter() - began)
        if response.status >= 400:
            errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            return None
        return json.loads(payload)

    while time.monotonic() < deadline:
        listing = call("list", "GET", "/api/v1/tasks?scope=group&per_page=50")
        if not listing or not listing["tasks"]:
            time.sleep(0.05)
            continue
        task = rng.choice(listing["tasks"])
        if call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim", {}) is None:
            continue
        if call("open", "GET", f"/api/v1/tasks/{task['id']}") is None:
            continue
        if call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": ROUND}) is not None:
            completions += 1
    conn.close()
    return {"completions": completions, "latencies": latencies, "errors": errors, "began": began,
            "ended": time.monotonic()}


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000, 1)

    return {"p50": round(statistics.median(ordered) * 1000, 1), "p95": at(95), "p99": at(99), "n": len(ordered)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and its workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for path in Path("/proc").iterdir():
        if not path.name.isdigit():
            continue
        try:
            fields = (path / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(path.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
