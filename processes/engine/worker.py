"""The background worker: fires due timers and runs what follows.

It sleeps until `lead` seconds before the next timer is due, then prepares a batch of
the timers due at that instant (claimed, instances locked, workflows loaded) and fires
them the moment they are due, so that what follows the due instant is only the engine's
step and the writes (see `Runtime.fire_due_timers`). On PostgreSQL it also LISTENs, so a
timer created meanwhile by a web process wakes it early; on SQLite it looks again at
most every `idle_poll` seconds, which is a single indexed query.

It survives the database: any error while firing, looking or listening (a dropped
connection, a restart, an outage) drops the LISTEN connection and tries again with a
growing delay (`min_backoff` doubling up to `max_backoff`); an outage is logged once when
it begins and once when it ends. Timers that came due meanwhile fire when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from processes.engine.models import utcnow
from processes.engine.runtime import Runtime
from processes.engine.sync import CHANNEL

log = logging.getLogger(__name__)

# Seconds before a due instant that its timers are prepared. Long enough for claiming,
# locking and loading a batch on a busy machine; the instances it holds wait at most this.
PREPARE_LEAD = 1.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[], object]


class Worker:
    def __init__(self, runtime: Runtime, idle_poll: float = 5.0, max_sleep: float = 300.0,
                 min_backoff: float = 0.5, max_backoff: float = 30.0, jobs: list[PeriodicJob] | None = None,
                 lead: float = PREPARE_LEAD):
        self.runtime = runtime
        self.lead = lead
        # Periodic jobs the composition root hands in (KPI targets, digests): the engine knows them by name only.
        self.jobs = list(jobs or [])
        self._job_runs: dict[str, float] = {}
        self.idle_poll = idle_poll
        self.max_sleep = max_sleep
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stop_event = threading.Event()
        self._listen_conn = None
        self.outages = 0  # how many times the database went away (for tests and operators)

    def run(self) -> None:
        log.info("worker started on %s", self.runtime.db.engine.dialect.name)
        outage_began: float | None = None
        delay = self.min_backoff
        while not self.stop_event.is_set():
            try:
                self._ensure_listening()
                fired = self.runtime.fire_due_timers(lead=self.lead)
                if fired:
                    log.info("fired %d timer(s)", fired)
                self.run_due_jobs()
                next_due = self.runtime.next_timer_due()
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any outage
                if outage_began is None:
                    outage_began = time.monotonic()
                    self.outages += 1
                    log.error("worker lost the database (%s: %s); retrying with backoff",
                              type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
                self._drop_listening()
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if outage_began is not None:
                log.warning("worker has the database back after %.1f s", time.monotonic() - outage_began)
                outage_began, delay = None, self.min_backoff
            try:
                self._sleep(next_due)
            except Exception:  # noqa: BLE001 - the LISTEN connection broke: reconnect on the next round
                self._drop_listening()
        self._drop_listening()

    def run_due_jobs(self, now: float | None = None) -> list[str]:
        """Run each job whose interval has passed since its last run (the first round runs all);
        a failing job is logged and tried again at its next interval, the others go on."""
        now = time.monotonic() if now is None else now
        ran = []
        for job in self.jobs:
            last = self._job_runs.get(job.name)
            if last is not None and now - last < job.every_seconds:
                continue
            self._job_runs[job.name] = now
            try:
                job.run()
                ran.append(job.name)
            except Exception:
                log.exception("periodic job %s failed", job.name)
        return ran

    def stop(self) -> None:
        self.stop_event.set()

    def sleep_seconds(self, next_due: datetime | None, now: datetime | None = None) -> float:
        limit = self.max_sleep if self._listen_conn is not None else self.idle_poll
        if next_due is None:
            return limit
        return max(0.0, min(limit, (next_due - (now or utcnow())).total_seconds() - self.lead))

    def _sleep(self, next_due: datetime | None) -> None:
        seconds = self.sleep_seconds(next_due)
        if self._listen_conn is None:
            self.stop_event.wait(seconds)
            return
        # Wake on NOTIFY, on the next due time, or each second to see the stop flag.
        remaining = seconds
        while remaining > 0 and not self.stop_event.is_set():
            step = min(1.0, remaining)
            if list(self._listen_conn.notifies(timeout=step, stop_after=1)):
                return
            remaining -= step

    def _ensure_listening(self) -> None:
        if self.runtime.db.is_sqlite or (self._listen_conn is not None and not self._listen_conn.closed):
            return
        import psycopg

        url = self.runtime.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {CHANNEL}")
        self._listen_conn = conn

    def _drop_listening(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110 - it is broken already; we only let go of it
                pass
