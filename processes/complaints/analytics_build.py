"""The rollup rows of every fact row, built in one pass: for the benchmark's million seeded facts and
for a migration that changes the rollups' shape.

Each fact adds what the observer would add for it (`analytics_rollup.rollup_cells`), summed in
memory by row, then the rows are written in bulk (COPY on PostgreSQL, one executemany on SQLite).
So the bulk build is the observer's own arithmetic, not a second definition of it; a test checks
that both give the same rows.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, insert, select, text

from processes.complaints import analytics_histogram as histogram
from processes.complaints.analytics_models import COUNT_COLUMNS, AnalyticsCount, ComplaintFact
from processes.complaints.analytics_rollup import rollup_cells

_COLUMNS = ("grain", "dim", "value", "period", *COUNT_COLUMNS, "paid_total", "histograms")


def summed_rows(facts) -> dict[tuple, tuple[dict, dict]]:
    """(grain, dim, value, period) → (counts by column, histograms {metric: {minutes: count}})."""
    rows: dict[tuple, tuple[dict, dict]] = {}
    for fact in facts:
        for key, (counts, histograms) in rollup_cells(fact, +1).items():
            row = rows.get(key)
            if row is None:
                rows[key] = (counts, histograms)
                continue
            mine = row[0]
            for column, n in counts.items():
                mine[column] = mine.get(column, 0) + n
            for metric, changes in histograms.items():
                hist = row[1].get(metric)
                if hist is None:
                    row[1][metric] = changes
                    continue
                for minutes, n in changes.items():
                    hist[minutes] = hist.get(minutes, 0) + n
    return rows


def _records(rows: dict[tuple, tuple[dict, dict]]):
    for key, (counts, histograms) in sorted(rows.items()):
        yield (*key, *(counts.get(c, 0) for c in COUNT_COLUMNS), Decimal(counts.get("paid_total", 0)),
               histogram.encode(histogram.settled(histograms)))


def build_rollups(session, batch: int = 5000) -> int:
    """Replace every rollup row by the sums of the fact rows; returns the rows written."""
    session.execute(delete(AnalyticsCount))
    facts = session.execute(select(ComplaintFact.__table__).execution_options(yield_per=batch))
    rows = summed_rows(facts)
    if session.get_bind().dialect.name == "postgresql":
        raw = session.connection().connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY analytics_counts ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for record in _records(rows):
                copy.write_row(record)
    else:
        records = [dict(zip(_COLUMNS, r, strict=True)) for r in _records(rows)]
        for first in range(0, len(records), batch):
            session.execute(insert(AnalyticsCount), records[first:first + batch])
    return session.execute(text("SELECT COUNT(*) FROM analytics_counts")).scalar_one()
