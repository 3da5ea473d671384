"""JSON for stored process state: orjson where it writes exactly what the standard library would.

Task data and workflow rows are written on every unit of work; orjson encodes them
an order of magnitude faster, in the same compact form as `json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)` (some floats are spelt differently, 1e-7
for 1e-07, which reads back the same). It differs on a few values: NaN and infinities
become null, tuples lists, and it refuses integers beyond 64 bits. A value is therefore
taken by orjson only when reading back what it wrote gives the value again (a C-level
comparison, cheaper than the standard library's encoding); anything else raises
TypeError from `plain_dumps`, so callers can take their own path, and takes the
standard library in `dumps`. Reading is always the standard library's, which gives back
big integers exactly. JSON columns refuse NaN and infinity on every database (PostgreSQL
would, SQLite would not): the runtime refuses them where data comes in.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def plain_dumps(value: Any, sort_keys: bool = True) -> str:
    """Compact JSON of a plain JSON value; TypeError for anything orjson would not write faithfully."""
    encoded = orjson.dumps(value, option=_PLAIN | orjson.OPT_SORT_KEYS if sort_keys else _PLAIN)
    if orjson.loads(encoded) != value:  # NaN, infinities, tuples
        raise TypeError("not plain JSON")
    return encoded.decode()


def dumps(value: Any) -> str:
    """JSON for a database column: orjson when it is faithful, else the standard library."""
    try:
        return plain_dumps(value, sort_keys=False)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)


loads = json.loads
