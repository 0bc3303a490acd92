"""Policy changes: proposed by one admin, applied when a second approves (the console's policy page).

Revision ID: 0006_policy_changes
Revises: 0005_drill
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_policy_changes'
down_revision = '0005_drill'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposed_by', sa.String(length=100), nullable=False),
    sa.Column('proposed_at', sa.DateTime(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('base_sha256', sa.String(length=64), nullable=False),
    sa.Column('new_text', sa.Text(), nullable=False),
    sa.Column('diff', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('what_would_change', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_changes'))
    )
    op.create_index(op.f('ix_policy_changes_state'), 'policy_changes', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_policy_changes_state'), table_name='policy_changes')
    op.drop_table('policy_changes')
