"""The rollup rows of every fact row, built in one go: for the benchmark's million seeded facts and
for a migration that changes the rollups' shape.

Each fact adds what the observer would add for it (`analytics_rollup.rollup_cells`, the observer's
own arithmetic, not a second definition of it), summed in memory by row, then the rows are written
in bulk (COPY on PostgreSQL, one executemany on SQLite). The slices are built a few at a time, one
pass over the facts each, so memory holds a part of the rows, not all of them. A test checks that
the bulk build gives the rows the observer kept step by step.
"""

from __future__ import annotations

import gc
from decimal import Decimal

from sqlalchemy import delete, select, text

from processes.complaints import analytics_histogram as histogram
from processes.complaints.analytics_models import COUNT_COLUMNS, AnalyticsCount, ComplaintFact
from processes.complaints.analytics_rollup import _PAIR_DIMS, DIMENSIONS, rollup_cells

_COLUMNS = ("grain", "dim", "value", "period", *COUNT_COLUMNS, "paid_total", "histograms")
# Everything and the dimensions together; the pairs (the many sparse rows) in thirds.
GROUPS = (("", *DIMENSIONS), _PAIR_DIMS[:7], _PAIR_DIMS[7:14], _PAIR_DIMS[14:])


def summed_rows(facts, keep=None) -> dict[tuple, tuple[dict, dict]]:
    """(grain, dim, value, period) → (counts by column, histograms {metric: {minutes: count}})."""
    rows: dict[tuple, tuple[dict, dict]] = {}
    for fact in facts:
        rollup_cells(fact, +1, keep, rows)
    return rows


def _records(rows: dict[tuple, tuple[dict, dict]], sqlite: bool):
    for (grain, dim, value, period), (counts, histograms) in rows.items():
        if not (counts or histograms):
            continue
        paid = Decimal(counts.get("paid_total", 0))
        yield (grain, dim, value, period.isoformat() if sqlite else period, *(counts.get(c, 0) for c in COUNT_COLUMNS),
               float(paid) if sqlite else paid, histogram.encode(histogram.settled(histograms)))


def build_rollups(session, batch: int = 5000) -> int:
    """Replace every rollup row by the sums of the fact rows; returns the rows written."""
    session.execute(delete(AnalyticsCount))
    sqlite = session.get_bind().dialect.name != "postgresql"
    raw = session.connection().connection.dbapi_connection
    collecting = gc.isenabled()
    gc.disable()  # millions of small dicts, none of them in a cycle: the collector would only rescan them
    try:
        for keep in GROUPS:
            facts = session.execute(select(ComplaintFact.__table__).execution_options(yield_per=batch))
            rows = summed_rows(facts, frozenset(keep))
            if sqlite:
                cursor = raw.cursor()
                cursor.executemany(f"INSERT INTO analytics_counts ({', '.join(_COLUMNS)}) "
                                   f"VALUES ({', '.join('?' * len(_COLUMNS))})", _records(rows, True))
                cursor.close()
            else:
                with raw.cursor() as cursor, cursor.copy(
                        f"COPY analytics_counts ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                    for record in _records(rows, False):
                        copy.write_row(record)
            del rows
    finally:
        if collecting:
            gc.enable()
    return session.execute(text("SELECT COUNT(*) FROM analytics_counts")).scalar_one()
