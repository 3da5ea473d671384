"""The composition root: the one place that builds a `Runtime` with everything it needs.

The Flask factory, every CLI command and the worker call `build_runtime()`; nothing else
installs observers or a mailer. Importing this module registers the service-task handlers
(`handlers/`) and the complaint domain's script helpers.
"""

from __future__ import annotations

from collections.abc import Callable

import handlers.builtin  # noqa: F401 - registers the service-task handlers
import processes.complaints.sla  # noqa: F401 - registers the SLA script helpers (sla_deadline, sla_state)
from processes.channels import mail_templates, outbound_mail
from processes.complaints import (
    analytics_rollup,
    company_calendar,
    config_versions,
    registration,
    task_urgency,
)
from processes.complaints.settings import default_settings
from processes.config import Settings
from processes.engine.database import Database
from processes.engine.runtime import Runtime
from processes.governance import config_review

# The customer e-mails' wording is reviewed like the settings (it reaches customers).
config_review.register("mail_templates", config_review.Kind(
    authors=frozenset({"admin"}), check=mail_templates.check, defaults=mail_templates.defaults,
    describe=lambda key: key))


def build_runtime(settings: Settings | None = None, *, db: Database | None = None,
                  process_settings: dict | None = None, link_base: Callable[[], str] | None = None,
                  mail: bool = True, cache_size: int = 256) -> Runtime:
    """A runtime on the configured database, with the complaint domain's observers (record, analytics) and (unless
    `mail=False`) the customer mailer; `process_settings` defaults to the shipped ones."""
    settings = settings or Settings.from_environ()
    db = db or Database(settings.database_url)
    runtime = Runtime(db, settings=process_settings if process_settings is not None else default_settings(),
                      cache_size=cache_size, script_time_limit=settings.script_time_limit)
    runtime.settings_source = lambda session: config_versions.in_force(session, "settings")
    company_calendar.install(db)  # the SLA clocks use the approved company calendar
    registration.install(runtime)
    analytics_rollup.install(runtime)  # after the record's, in the same transaction
    task_urgency.install(runtime)  # a deadline and a priority on every human task
    if mail:
        public = settings.public_url
        outbound_mail.install(runtime, smtp_url=settings.smtp_url or "", sender=settings.mail_from,
                              link_base=link_base or (lambda: public or "http://127.0.0.1:5000/"))
    return runtime


def periodic_jobs(runtime: Runtime, settings: Settings | None = None) -> list:
    """What the worker runs besides timers: KPI targets checked hourly (the owner told when one is
    crossed), management's weekly digest (looked for hourly, sent once on Monday)."""
    from processes.channels import kpi_alerts
    from processes.engine.worker import PeriodicJob

    settings = settings or Settings.from_environ()
    status = "pending" if settings.smtp_url else "outbox"
    return [PeriodicJob("kpi_targets", 3600, lambda: kpi_alerts.check_targets(runtime.db, mail_status=status)),
            PeriodicJob("weekly_digest", 3600, lambda: kpi_alerts.weekly_digest(runtime.db, mail_status=status))]
