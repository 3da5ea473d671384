"""Administration: the outbox of customer e-mail (sent, waiting, failed)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from processes.channels.outbound_mail import outbox as outbox_messages
from web.auth import roles_required
from web.context import database

bp = Blueprint("admin", __name__)
url_prefix = "/admin"
# The states processes/outbound_mail.py gives a message.
STATUSES = ("outbox", "pending", "sending", "sent", "failed", "skipped")


@bp.get("/outbox")
@roles_required("admin")
def outbox():
    status = request.args.get("status")
    status = status if status in STATUSES else None
    with database().session() as s:
        messages = outbox_messages(s, status=status, limit=200)
    return render_template("admin_outbox.html", messages=messages, status=status, statuses=STATUSES)
