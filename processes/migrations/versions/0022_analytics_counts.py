"""analytics: the plain counts in one wide row per slice and day/month (analytics_counts); the narrow
rollups keep only the duration histograms, by month and year outside the no-filter slice and none for pairs (issue 16)

Revision ID: 0022
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0020'
branch_labels = None
depends_on = None

COUNTS = ("received", "acknowledged", "resolved", "within_sla", "breached", "first_contact", "reopened", "paid",
          "closed", "closed_resolved", "escalated", "survey_sent", "survey_answered", "csat_positive", "risk_in",
          "risk_out", "breach_in", "breach_out")
DURATIONS = ("ack_min", "ack_bmin", "resolve_min", "resolve_bmin")
COLUMNS = (*COUNTS, *(f"level_{n}" for n in range(1, 5)), *(f"score_{n}" for n in range(1, 6)))


def upgrade() -> None:
    op.create_table(
        'analytics_counts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('grain', sa.String(length=5), nullable=False),
        sa.Column('dim', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=250), nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('paid_total', sa.Numeric(precision=16, scale=2), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in COLUMNS),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('grain', 'dim', 'value', 'period', name='uq_count_key'),
    )
    # The counts already kept move to their wide rows, at the grains the new design keeps.
    sums = [f"SUM(CASE WHEN metric = '{m}' THEN count ELSE 0 END)" for m in COUNTS]
    sums += [f"SUM(CASE WHEN metric = 'level' AND bucket = {n} THEN count ELSE 0 END)" for n in range(1, 5)]
    sums += [f"SUM(CASE WHEN metric = 'score' AND bucket = {n} THEN count ELSE 0 END)" for n in range(1, 6)]
    op.execute(
        f"INSERT INTO analytics_counts (grain, dim, value, period, paid_total, {', '.join(COLUMNS)}) "
        f"SELECT grain, dim, value, period, SUM(CASE WHEN metric = 'paid' THEN total ELSE 0 END), {', '.join(sums)} "
        f"FROM analytics_rollups WHERE metric NOT IN ({', '.join(repr(m) for m in DURATIONS)}) "
        "AND (grain = 'day' OR dim IN ('', 'root_cause', 'product_root_cause')) GROUP BY grain, dim, value, period")
    op.execute(f"DELETE FROM analytics_rollups WHERE metric NOT IN ({', '.join(repr(m) for m in DURATIONS)})")
    op.execute("DELETE FROM analytics_rollups WHERE dim LIKE '%+%' OR (dim <> '' AND grain = 'day')")
    # Histograms by year, from their months (a long period reads years).
    if op.get_bind().dialect.name == "postgresql":
        year = "CAST(date_trunc('year', period) AS DATE)"
    else:
        year = "date(period, 'start of year')"
    op.execute(f"INSERT INTO analytics_rollups (grain, dim, value, metric, period, bucket, count, total) "
               f"SELECT 'year', dim, value, metric, {year}, bucket, SUM(count), SUM(total) FROM analytics_rollups "
               f"WHERE grain = 'month' GROUP BY dim, value, metric, {year}, bucket")


def downgrade() -> None:
    # The counts go back to one row per metric; the histograms dropped are not rebuilt.
    op.execute("DELETE FROM analytics_rollups WHERE grain = 'year'")
    for m in COUNTS:
        op.execute(f"INSERT INTO analytics_rollups (grain, dim, value, metric, period, bucket, count, total) "
                   f"SELECT grain, dim, value, '{m}', period, 0, {m}, "
                   f"{'paid_total' if m == 'paid' else '0'} FROM analytics_counts WHERE {m} <> 0")
    for metric, n_max in (("level", 4), ("score", 5)):
        for n in range(1, n_max + 1):
            op.execute(f"INSERT INTO analytics_rollups (grain, dim, value, metric, period, bucket, count, total) "
                       f"SELECT grain, dim, value, '{metric}', period, {n}, {metric}_{n}, 0 FROM analytics_counts "
                       f"WHERE {metric}_{n} <> 0")
    op.drop_table('analytics_counts')
