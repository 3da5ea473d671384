"""The background worker: fires due timers and runs what follows.

It sleeps until the next timer is due. On PostgreSQL it also LISTENs, so a
timer created meanwhile by a web process wakes it early; on SQLite it looks
again at most every `idle_poll` seconds, which is a single indexed query.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from processes.engine.models import utcnow
from processes.engine.runtime import Runtime
from processes.engine.sync import CHANNEL

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, runtime: Runtime, idle_poll: float = 5.0, max_sleep: float = 300.0):
        self.runtime = runtime
        self.idle_poll = idle_poll
        self.max_sleep = max_sleep
        self.stop_event = threading.Event()
        self._listen_conn = None

    def run(self) -> None:
        self._listen()
        log.info("worker started on %s", self.runtime.db.engine.dialect.name)
        while not self.stop_event.is_set():
            try:
                fired = self.runtime.fire_due_timers()
                if fired:
                    log.info("fired %d timer(s)", fired)
            except Exception:
                log.exception("firing timers failed; trying again shortly")
                self.stop_event.wait(1.0)
                continue
            self._sleep(self.runtime.next_timer_due())
        if self._listen_conn is not None:
            self._listen_conn.close()

    def stop(self) -> None:
        self.stop_event.set()

    def sleep_seconds(self, next_due: datetime | None, now: datetime | None = None) -> float:
        limit = self.max_sleep if self._listen_conn is not None else self.idle_poll
        if next_due is None:
            return limit
        return max(0.0, min(limit, (next_due - (now or utcnow())).total_seconds()))

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

    def _listen(self) -> None:
        if self.runtime.db.is_sqlite:
            return
        import psycopg

        url = self.runtime.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listen_conn = psycopg.connect(url, autocommit=True)
        self._listen_conn.execute(f"LISTEN {CHANNEL}")

