"""Analytics: one fact row per complaint and the day/month rollups kept from them (issue 16)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import processes.engine.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('analytics_rollups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('grain', sa.String(length=5), nullable=False),
    sa.Column('dim', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=250), nullable=False),
    sa.Column('metric', sa.String(length=30), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('grain', 'dim', 'value', 'metric', 'period', 'bucket', name='uq_rollup_key')
    )
    op.create_table('complaint_facts',
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('product', sa.String(length=200), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=True),
    sa.Column('sla_profile', sa.String(length=20), nullable=True),
    sa.Column('tier', sa.String(length=20), nullable=True),
    sa.Column('root_cause', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=True),
    sa.Column('received_at', processes.engine.models.TZDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', processes.engine.models.TZDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', processes.engine.models.TZDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', processes.engine.models.TZDateTime(timezone=True), nullable=True),
    sa.Column('resolve_due', processes.engine.models.TZDateTime(timezone=True), nullable=True),
    sa.Column('at_risk_at', processes.engine.models.TZDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('ack_minutes', sa.Integer(), nullable=True),
    sa.Column('ack_business_minutes', sa.Integer(), nullable=True),
    sa.Column('resolve_minutes', sa.Integer(), nullable=True),
    sa.Column('resolve_business_minutes', sa.Integer(), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('mediation_rounds', sa.Integer(), nullable=False),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.Column('survey_sent', sa.Boolean(), nullable=False),
    sa.Column('satisfaction_score', sa.Integer(), nullable=True),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('reference')
    )
    with op.batch_alter_table('complaint_facts', schema=None) as batch_op:
        batch_op.create_index('ix_fact_acknowledged', ['acknowledged_at'], unique=False)
        batch_op.create_index('ix_fact_open', ['closed_at', 'resolved_at', 'received_at'], unique=False)
        batch_op.create_index('ix_fact_received', ['received_at'], unique=False)
        batch_op.create_index('ix_fact_resolved', ['resolved_at'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('complaint_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_resolved')
        batch_op.drop_index('ix_fact_received')
        batch_op.drop_index('ix_fact_open')
        batch_op.drop_index('ix_fact_acknowledged')

    op.drop_table('complaint_facts')
    op.drop_table('analytics_rollups')
    
