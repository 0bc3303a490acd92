"""Console state shared by every console on the records: signed-in sessions (the token's SHA-256,
never the token) and the claims that let one console only send each alert on each channel.

Revision ID: 0009_console_state
Revises: 0008_traffic
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_console_state'
down_revision = '0008_traffic'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('started', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('csrf', sa.String(length=100), nullable=False),
    sa.Column('flashes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_console_sessions'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_user_name'), ['user_name'], unique=False)

    op.create_table('alert_claims',
    sa.Column('alert_key', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('alert_key', 'channel', name=op.f('pk_alert_claims'))
    )


def downgrade() -> None:
    op.drop_table('alert_claims')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_user_name'))
    op.drop_table('console_sessions')
