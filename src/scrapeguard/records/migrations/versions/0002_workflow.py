"""The legal workflow: notification obligations per incident, what a notice really was when sent
(final text or document with its SHA-256, channel), and whether "was the data public" was answered.

Revision ID: 0002_workflow
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_workflow'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident_obligations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('regime', sa.String(length=40), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reasoning', sa.Text(), nullable=False),
    sa.Column('due', sa.DateTime(), nullable=True),
    sa.Column('deadline', sa.Text(), nullable=False),
    sa.Column('derived_at', sa.DateTime(), nullable=False),
    sa.Column('waived_by', sa.String(length=100), nullable=True),
    sa.Column('waived_at', sa.DateTime(), nullable=True),
    sa.Column('waiver_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_incident_obligations_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_obligations')),
    sa.UniqueConstraint('incident_id', 'regime', 'audience',
                        name='uq_incident_obligations_incident_regime_audience')
    )
    with op.batch_alter_table('incident_obligations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_obligations_incident_id'), ['incident_id'],
                              unique=False)

    # Plain ADD COLUMN (no batch copy): SQLite cannot drop and recreate a table others refer to.
    op.add_column('notices', sa.Column('channel', sa.String(length=100), nullable=True))
    op.add_column('notices', sa.Column('final_text', sa.Text(), nullable=True))
    op.add_column('notices', sa.Column('final_document', sa.LargeBinary(), nullable=True))
    op.add_column('notices', sa.Column('final_document_name', sa.String(length=300), nullable=True))
    op.add_column('notices', sa.Column('final_sha256', sa.String(length=64), nullable=True))

    # Whether the data was public used to default silently to "yes": no existing answer is known to have
    # been stated, so every existing incident starts with the question open (its next assessment says so).
    op.add_column('incidents', sa.Column('public_stated', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop tables others refer to.
    op.drop_column('incidents', 'public_stated')
    for column in ('final_sha256', 'final_document_name', 'final_document', 'final_text', 'channel'):
        op.drop_column('notices', column)
    op.drop_index(op.f('ix_incident_obligations_incident_id'), table_name='incident_obligations')
    op.drop_table('incident_obligations')
