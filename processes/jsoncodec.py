"""JSON for stored process state: orjson where the value is plain JSON, the standard library otherwise.

Task data and workflow rows are written on every unit of work; orjson encodes them
an order of magnitude faster and byte for byte like `json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`. Values orjson would encode differently
from the standard library (datetimes, dataclasses, subclasses) or not at all
(Decimal, sets, non-string keys, huge integers) raise `TypeError` from `plain_dumps`,
so callers can take their own slower path; `dumps` takes the standard library's.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def plain_dumps(value: Any, sort_keys: bool = True) -> str:
    """Compact JSON of a plain JSON value; TypeError for anything else."""
    return orjson.dumps(value, option=_PLAIN | orjson.OPT_SORT_KEYS if sort_keys else _PLAIN).decode()


def dumps(value: Any) -> str:
    """JSON for a database column: orjson when it can, else the standard library (as before)."""
    try:
        return orjson.dumps(value, option=_PLAIN).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
