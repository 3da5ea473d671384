"""The deployment's settings, read from the environment once.

Every `REDRESS_*` variable the product reads is a field here (README, "Settings"). The
composition root (`processes.app`) reads them with `Settings.from_environ()` and hands the
values to the pieces that need them; nothing else reads the environment for these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    secret_key: str | None = None
    instance_dir: Path = Path("instance")
    models_dir: Path | None = None
    smtp_url: str | None = None
    public_url: str | None = None
    mail_from: str = "Redress <complaints@localhost>"
    # None: answer any host name (REDRESS_TRUSTED_HOSTS=*).
    trusted_hosts: tuple[str, ...] | None = LOCAL_HOSTS
    secure_cookies: bool = False
    timezone: str = "Asia/Shanghai"
    sla_profile: str | None = None
    # The customer service telephone number the portal shows when it cannot take a complaint.
    hotline: str | None = None
    sla_country: str | None = None
    sla_config: str | None = None
    script_time_limit: float = 2.0  # seconds per script or expression

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"REDRESS_{name}", "").strip()
            return value or None

        return cls(
            database_url=get("DATABASE_URL"),
            secret_key=get("SECRET_KEY"),
            instance_dir=Path(get("INSTANCE") or "instance"),
            models_dir=Path(get("MODELS_DIR")) if get("MODELS_DIR") else None,
            smtp_url=get("SMTP_URL"),
            public_url=get("PUBLIC_URL"),
            mail_from=get("MAIL_FROM") or cls.mail_from,
            trusted_hosts=_trusted_hosts(get("TRUSTED_HOSTS")),
            secure_cookies=get("SECURE_COOKIES") == "1",
            timezone=get("TIMEZONE") or cls.timezone,
            sla_profile=get("SLA_PROFILE"),
            hotline=get("HOTLINE"),
            sla_country=get("SLA_COUNTRY"),
            sla_config=get("SLA_CONFIG"),
            script_time_limit=_seconds(get("SCRIPT_TIME_LIMIT"), cls.script_time_limit),
        )


def _seconds(configured: str | None, default: float) -> float:
    """A positive number of seconds; anything else keeps the default (a typo must not lift the limit)."""
    try:
        value = float(configured) if configured else default
    except ValueError:
        return default
    return value if 0 < value < 3600 else default


def _trusted_hosts(configured: str | None) -> tuple[str, ...] | None:
    """`*` answers any host; a comma-separated list names them; by default this machine only."""
    if configured == "*":
        return None
    if configured:
        return tuple(host.strip() for host in configured.split(",") if host.strip())
    return LOCAL_HOSTS
