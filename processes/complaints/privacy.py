"""Customer personal data: who sees it in clear, and how it is masked for everyone else (保密原则)."""

from __future__ import annotations

import re
from typing import Any

from processes.engine.actors import Actor

# Customer service handles the customer; only its people need the contact details in clear.
PII_ROLES = ("agent", "senior_agent", "supervisor", "manager")
PERSONAL_FIELDS = ("customer_name", "customer_phone", "customer_email", "customer_address")


def sees_personal_data(who: Actor) -> bool:
    return who.department == "customer_service" and who.role in PII_ROLES


def sees_customer_files(who: Actor) -> bool:
    """The customer's own files (photos, invoices, ID scans) carry the same personal data as
    their contact details, so the same people open them (need to know)."""
    return sees_personal_data(who)


def mask_filename(name: str | None) -> str:
    """A file name can hold a name or a phone number: only its type is shown."""
    extension = (name or "").rsplit(".", 1)[-1].lower() if "." in (name or "") else ""
    return f"***.{extension[:8]}" if extension else "***"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email and "***"
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[:1] + "*" * min(max(len(name) - 1, 1), 4)


def mask_address(address: str | None) -> str | None:
    if not address:
        return address
    return address[:6] + "****"


_MASKS = {"customer_name": mask_name, "customer_phone": mask_phone, "customer_email": mask_email,
          "customer_address": mask_address}


def mask_data(data: Any, who: Actor) -> Any:
    """Process data or audit detail as `who` may see it: personal fields masked, at any depth."""
    if sees_personal_data(who):
        return data
    if isinstance(data, dict):
        return {key: (_MASKS[key](value) if key in _MASKS and isinstance(value, str) or
                      key in _MASKS and value is None else mask_data(value, who))
                for key, value in data.items()}
    if isinstance(data, list):
        return [mask_data(item, who) for item in data]
    return data
