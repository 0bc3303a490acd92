"""Drills: each recorded scorecard (`scrapeguard drill --db`), with its policy's SHA-256.

Revision ID: 0005_drill
Revises: 0004_tamper
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_drill'
down_revision = '0004_tamper'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drill_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ran_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('policy_source', sa.String(length=500), nullable=False),
    sa.Column('policy_sha256', sa.String(length=64), nullable=False),
    sa.Column('strategies', sa.Integer(), nullable=False),
    sa.Column('max_profiles', sa.Integer(), nullable=False),
    sa.Column('people_refused', sa.Integer(), nullable=False),
    sa.Column('scorecard', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_runs'))
    )


def downgrade() -> None:
    op.drop_table('drill_runs')
