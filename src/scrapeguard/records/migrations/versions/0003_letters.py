"""Letters approved and sent; clear actors of a case; the audience of exposure.

- case_letters: state (draft -> approved -> sent), the facts a draft was made from, who approved it
  and when, when and how it was really sent, and its final text. Letters recorded before this
  revision were recorded as sent when they were made: they become "sent" then, channel unknown.
- cases: clear_actors, the clear values of pseudonymised actors as the team entered them.
- exposure: audiences, whom the responses were shown to (empty for older rows: not recorded).

Revision ID: 0003_letters
Revises: 0002_workflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_letters'
down_revision = '0002_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=20), nullable=False, server_default='draft'))
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sent_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('final_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('final_sha256', sa.String(length=64), nullable=True))
    # Before this revision a letter was recorded as sent the moment it was made.
    op.execute("UPDATE case_letters SET state = 'sent', sent_by = created_by, sent_at = created_at, "
               "channel = 'not recorded', final_text = text, final_sha256 = sha256")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clear_actors', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audiences', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.drop_column('audiences')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('clear_actors')
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        for name in ('final_sha256', 'final_text', 'channel', 'sent_at', 'sent_by', 'approved_at',
                     'approved_by', 'facts', 'state'):
            batch_op.drop_column(name)
