"""analytics: the duration histograms move into the wide rollup rows (analytics_counts.histograms, JSON
of exact minutes while few, 2 % log buckets after); every slice keeps them by day and month, everything
and each dimension by year, the root causes beside them; analytics_rollups is dropped (issue 16)

Upgrade rebuilds every rollup row from the fact rows with the observer's own arithmetic
(`analytics_build`); downgrade converts the histograms back to one row per bucket (three significant
digits) at the grains the narrow design kept.

Revision ID: 0024
Revises: 0023
"""
from collections import defaultdict
from decimal import Decimal

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_COUNTS = sa.table("analytics_counts", sa.column("grain", sa.String), sa.column("dim", sa.String),
                   sa.column("value", sa.String), sa.column("period", sa.Date), sa.column("histograms", sa.Text))
_ROLLUPS = sa.table("analytics_rollups", sa.column("grain", sa.String), sa.column("dim", sa.String),
                    sa.column("value", sa.String), sa.column("metric", sa.String), sa.column("period", sa.Date),
                    sa.column("bucket", sa.Integer), sa.column("count", sa.BigInteger),
                    sa.column("total", sa.Numeric(16, 2)))


COUNTS = ("received", "acknowledged", "resolved", "within_sla", "breached", "first_contact", "reopened", "paid",
          "closed", "closed_resolved", "escalated", "survey_sent", "survey_answered", "csat_positive", "risk_in",
          "risk_out", "breach_in", "breach_out", *(f"level_{n}" for n in range(1, 5)), *(f"score_{n}" for n in range(1, 6)))
_CAUSE_ROWS = sa.table("analytics_counts", *(sa.column(n, sa.String) for n in ("grain", "dim", "value")),
                       sa.column("period", sa.Date), sa.column("paid_total", sa.Numeric(16, 2)),
                       *(sa.column(n, sa.Integer) for n in COUNTS))


def upgrade() -> None:
    from processes.complaints.analytics_build import build_rollups

    op.add_column("analytics_counts", sa.Column("histograms", sa.Text(), nullable=False, server_default="{}"))
    build_rollups(Session(bind=op.get_bind()))
    op.drop_table("analytics_rollups")


def _old_bucket(minutes: int) -> int:
    """Three significant digits, as the narrow histograms were kept."""
    if minutes < 1000:
        return max(minutes, 0)
    step = 10 ** (len(str(minutes)) - 3)
    return minutes // step * step


def _old_kept(grain: str, dim: str) -> bool:
    if dim == "":
        return True
    if "+" not in dim:
        return grain in ("month", "year")
    return grain == "month" and "prd" not in dim.split("+")


def downgrade() -> None:
    op.create_table(
        "analytics_rollups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("dim", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=250), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("grain", "dim", "value", "metric", "period", "bucket", name="uq_rollup_key"),
    )
    conn = op.get_bind()
    sums: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    causes: dict[tuple, int] = defaultdict(int)  # the root-cause slices, counted by day and month again
    c = _COUNTS.c
    for grain, dim, value, period, text in conn.execute(
            sa.select(c.grain, c.dim, c.value, c.period, c.histograms).where(c.histograms != "{}")):
        stored = orjson.loads(text)
        if dim in ("", "product") and grain in ("day", "month"):
            for cause, n in stored.get("root_cause", {}).items():
                key = ("root_cause", cause) if dim == "" else ("product_root_cause", f"{value}\x1f{cause}"[:250])
                causes[(grain, *key, period)] += n
        if not _old_kept(grain, dim):
            continue
        for metric, counts in stored.items():
            if metric == "root_cause":
                continue
            for minutes, n in counts.items():
                cell = sums[(grain, dim, value, metric.removesuffix("~"), period, _old_bucket(int(minutes)))]
                cell[0] += n
                cell[1] += int(minutes) * n  # a coarse bucket's total is its lower bound's
    rows = [dict(zip(("grain", "dim", "value", "metric", "period", "bucket"), key, strict=True), count=n, total=t)
            for key, (n, t) in sums.items() if n]
    for first in range(0, len(rows), 5000):
        conn.execute(sa.insert(_ROLLUPS), rows[first:first + 5000])
    op.execute("DELETE FROM analytics_counts WHERE grain = 'year' OR (grain = 'month' AND dim <> '')")
    cause_rows = [{"grain": g, "dim": d, "value": v, "period": p, "paid_total": 0, **dict.fromkeys(COUNTS, 0),
                   "resolved": n} for (g, d, v, p), n in causes.items() if n]
    if cause_rows:
        conn.execute(sa.insert(_CAUSE_ROWS), cause_rows)
    with op.batch_alter_table("analytics_counts") as batch:
        batch.drop_column("histograms")
