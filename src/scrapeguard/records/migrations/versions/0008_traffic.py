"""Traffic per minute: requests the guard judged (allows included) per route kind and action,
for the console's Live view.

Revision ID: 0008_traffic
Revises: 0007_case_documents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_traffic'
down_revision = '0007_case_documents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('traffic_minutes',
    sa.Column('minute', sa.DateTime(), nullable=False),
    sa.Column('route', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('minute', 'route', 'action', name=op.f('pk_traffic_minutes'))
    )


def downgrade() -> None:
    op.drop_table('traffic_minutes')
