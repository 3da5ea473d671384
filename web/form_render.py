"""Task forms: from a JSON Schema with x-ui hints to fields a template renders, and back.

`form_fields` turns the schema, the values to show and the errors into a list
of `Field`s in the chosen language (templates/_form_fields.html draws them).
`read_submission` turns a posted form into typed data for the runtime, keeping
what the person typed so a page with errors shows it again unchanged.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import pgettext
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.utils import secure_filename

from processes.engine.forms import WIDGETS, choice_text, choices_of, kind_of, widget_of
from web.workspace_i18n import pick

__all__ = ["WIDGETS", "Field", "form_fields", "form_title", "read_submission", "widget_of"]

@dataclass
class Field:
    name: str
    widget: str
    label: str
    help: str = ""
    required: bool = False
    # What to show: a string for inputs, a bool for a checkbox, a list for multi-select and files.
    value: Any = ""
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    step: str | None = None
    max_length: int | None = None
    # What a policy proposes for this field (x-ui "suggestion" names the variable): shown, never applied.
    suggestion: str = ""
    # A letter to the customer gets room to be read whole.
    rows: int = 4

    @property
    def input_id(self) -> str:
        return f"f-{self.name}"


def form_title(schema: dict | None, fallback: str = "") -> str:
    if not schema:
        return fallback
    return pick((schema.get("x-ui") or {}).get("title"), schema.get("title") or fallback)


def ordered_names(schema: dict) -> list[str]:
    properties = schema.get("properties", {})
    order = [n for n in (schema.get("x-ui") or {}).get("order", []) if n in properties]
    return order + [n for n in properties if n not in order]


def form_fields(schema: dict | None, values: dict | None = None, errors: dict | None = None,
                facts: dict | None = None) -> list[Field]:
    """The fields to draw; `values` are typed data (a draft, the task's data) or raw posted text;
    `facts` (the task's data) supply the suggestions fields name."""
    if not schema:
        return []
    values, errors = values or {}, errors or {}
    required = set(schema.get("required", []))
    fields = []
    for name in ordered_names(schema):
        prop = schema["properties"][name]
        ui = prop.get("x-ui") or {}
        widget = widget_of(prop)
        options = _options(prop, ui)
        f = Field(name=name, widget=widget, label=pick(ui.get("label"), prop.get("title") or name),
                  help=pick(ui.get("help"), ""), required=name in required, options=options,
                  minimum=prop.get("minimum"), maximum=prop.get("maximum"), max_length=prop.get("maxLength"),
                  error=errors.get(name))
        if widget == "money":
            f.step = str(prop.get("multipleOf", "0.01"))
        elif widget == "number":
            f.step = str(prop["multipleOf"]) if "multipleOf" in prop else (
                "1" if _kind(prop) == "integer" else "any")
        f.value = _display(widget, values.get(name, prop.get("default")), _kind(prop))
        f.suggestion = _suggestion(widget, options, (facts or {}).get(ui.get("suggestion") or ""))
        if ui.get("from_template") or ui.get("placeholders"):
            f.rows = 14
        fields.append(f)
    return fields


_kind = kind_of


def _suggestion(widget: str, options: list[tuple[str, str]], value: Any) -> str:
    if value in (None, ""):
        return ""
    if widget == "money":
        from web.i18n import money

        return money(value)
    return dict(options).get(choice_text(value), str(value))


def _options(prop: dict, ui: dict) -> list[tuple[str, str]]:
    """(value sent, text shown) per choice; a yes/no question reads 是 / 否 unless the form names them."""
    labels = ui.get("enum_labels") or {}
    options = []
    for value in choices_of(prop):
        sent = choice_text(value)
        if isinstance(value, bool):
            fallback = pgettext("choice", "Yes") if value else pgettext("choice", "No")
        else:
            fallback = sent
        options.append((sent, pick(labels.get(sent), fallback)))
    return options


def _display(widget: str, value: Any, kind: str = "string") -> Any:
    if widget == "checkbox":
        return value in (True, "on", "true", "1", 1)
    if kind == "boolean" and widget in ("radio", "select"):
        return "" if value in (None, "") else choice_text(value in (True, "true", "on", "1", 1))
    if widget in ("multiselect", "file"):
        if value in (None, ""):
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_submission(schema: dict | None, form: MultiDict, files: MultiDict | None = None,
                    store_file=None) -> tuple[dict, dict, dict]:
    """(data typed for the schema, raw values to show again, errors of values that do not parse).

    A field left empty is None in the data (it clears an earlier round's value; "required" still
    catches it), one not on the page is left out; `store_file(FileStorage)`
    saves an upload and returns the name kept in the data."""
    data: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if not schema:
        return data, raw, errors
    for name in ordered_names(schema):
        prop = schema["properties"][name]
        widget = widget_of(prop)
        if widget == "checkbox":
            data[name] = raw[name] = form.get(name) in ("on", "true", "1")
            continue
        if widget == "multiselect":
            chosen = [v for v in form.getlist(name) if v]
            raw[name] = chosen
            if chosen:
                data[name] = chosen
            continue
        if widget == "file":
            kept = [v for v in form.getlist(f"{name}__keep") if v]
            uploads = [f for f in (files.getlist(name) if files else []) if isinstance(f, FileStorage) and f.filename]
            stored = [store_file(f) for f in uploads] if store_file else []
            raw[name] = kept + stored
            if raw[name]:
                data[name] = raw[name]
            continue
        text = (form.get(name) or "").strip()
        raw[name] = text
        if text == "":
            if name in form:  # emptied on the page: clears what an earlier round left there
                data[name] = None
            continue
        kind = _kind(prop)
        if kind == "boolean":
            # A yes/no radio group or select: anything but the two offered values is refused.
            if text in ("true", "false"):
                data[name] = text == "true"
            else:
                errors[name] = _("Choose one of the offered options.")
        elif widget in ("number", "money") or kind in ("number", "integer"):
            number = _number(text, kind == "integer")
            if number is None:
                errors[name] = _("Enter a whole number.") if kind == "integer" else _("Enter a number, e.g. 120.50.")
            else:
                data[name] = number
        elif widget == "date":
            if not _is_date(text):
                errors[name] = _("Enter a date as YYYY-MM-DD.")
            else:
                data[name] = text
        else:
            data[name] = text
    return data, raw, errors


def _number(text: str, integer: bool):
    cleaned = text.replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if integer:
        return int(value) if value == value.to_integral_value() else None
    return int(value) if value == value.to_integral_value() and "." not in cleaned else float(value)


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def store_upload(folder: Path, business_key: str, upload: FileStorage) -> str:
    """Save an attachment under instance/attachments/<reference>/ and return its stored name."""
    safe_key = secure_filename(business_key) or "unfiled"
    name = f"{uuid.uuid4().hex[:12]}-{secure_filename(upload.filename or 'file') or 'file'}"[:180]
    target = folder / safe_key
    target.mkdir(parents=True, exist_ok=True)
    upload.save(target / name)
    return name


def attachment_label(stored: str) -> str:
    """The original file name of a stored attachment (without the uniqueness prefix)."""
    return stored.split("-", 1)[1] if re.match(r"^[0-9a-f]{12}-", stored) else stored
