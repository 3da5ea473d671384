"""Times as people read them: in the deployment's one time zone, with its label, and countdowns."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _


def countdown(due: datetime | None, now: datetime) -> str:
    """ "3 h 20 min left" or "overdue by 2 d 4 h", in the chosen language."""
    if due is None:
        return _("no deadline")
    seconds = int((due - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        amount = _("%(d)d d %(h)d h", d=days, h=hours)
    elif hours:
        amount = _("%(h)d h %(m)d min", h=hours, m=minutes)
    else:
        amount = _("%(m)d min", m=minutes)
    return _("%(amount)s left", amount=amount) if seconds >= 0 else _("overdue by %(amount)s", amount=amount)


def deployment_zone():
    """The deployment's one time zone (REDRESS_TIMEZONE, default Asia/Shanghai); UTC if the name is unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = current_app.config.get("DISPLAY_TIMEZONE") or current_app.config.get("TIMEZONE") or "Asia/Shanghai"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _in_zone(value: datetime) -> datetime:
    try:
        return value.astimezone(deployment_zone())
    except (OverflowError, ValueError):  # a year-9999 value stored before input was bounded
        return value


def local_time(value: datetime | None, with_zone: bool = False, seconds: bool = False) -> str:
    """A timestamp in the installation's time zone (REDRESS_TIMEZONE, default Asia/Shanghai);
    ``seconds`` for records such as the audit log, where the order within a minute matters."""
    if value is None:
        return "—"
    local = _in_zone(value)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return shown + (f" {local.tzname()}" if with_zone else "")


def local_day(value: datetime | None) -> str:
    """The day of a timestamp in the installation's time zone (late evening UTC is the next day in Shanghai)."""
    return "—" if value is None else _in_zone(value).strftime("%Y-%m-%d")


def time_zone_label() -> str:
    """The deployment's one time zone as people read it: "Asia/Shanghai (UTC+08:00)"."""
    zone = deployment_zone()
    offset = datetime.now(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def countdown_words() -> dict:
    """The countdown's words for the page's script (countdown.js), in the chosen language."""
    return {
        "left": _("%(amount)s left", amount="{amount}"),
        "overdue": _("overdue by %(amount)s", amount="{amount}"),
        "dh": _("%(d)d d %(h)d h", d=0, h=0).replace("0", "{d}", 1).replace("0", "{h}", 1),
        "hm": _("%(h)d h %(m)d min", h=0, m=0).replace("0", "{h}", 1).replace("0", "{m}", 1),
        "ms": _("%(m)d min %(s)d s", m=0, s=0).replace("0", "{m}", 1).replace("0", "{s}", 1),
        "on_time": _("On time"),
        "at_risk": _("At risk"),
        "breached": _("Breached"),
    }
