"""Tamper evidence: keyed audit entries with row digests, a settings table (key fingerprint),
one row per decision (duplicates from repeated imports removed first).

Revision ID: 0004_tamper
Revises: 0003_letters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_tamper'
down_revision = '0003_letters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settings',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_settings'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        # entries written so far were unkeyed SHA-256: they keep verifying as such
        batch_op.add_column(sa.Column('scheme', sa.String(length=20), nullable=False,
                                      server_default='sha256'))
        batch_op.add_column(sa.Column('row_digest', sa.String(length=64), nullable=True))
    # a decision imported twice: keep its first row (and that row's actor links)
    first = "SELECT MIN(id) FROM decisions GROUP BY decision_id, at"
    op.execute(sa.text(f"DELETE FROM decision_actors WHERE decision_pk NOT IN ({first})"))
    op.execute(sa.text(f"DELETE FROM decisions WHERE id NOT IN ({first})"))
    # a unique index, not a constraint: on SQLite a constraint means copying the table, and
    # dropping the old one would cascade to decision_actors (foreign keys are on)
    op.create_index('uq_decisions_decision_id_at', 'decisions', ['decision_id', 'at'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_decisions_decision_id_at', table_name='decisions')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('row_digest')
        batch_op.drop_column('scheme')
    op.drop_table('settings')
