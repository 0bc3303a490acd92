"""Initial records schema: decisions, exposure, members, users, incidents, notices, cases, audit log.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=100), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('enforced', sa.Boolean(), nullable=False),
    sa.Column('route', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('path', sa.String(length=2000), nullable=False),
    sa.Column('actors', sa.JSON(), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_decision_id'), ['decision_id'], unique=False)

    op.create_table('exposure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('member', sa.String(length=300), nullable=False),
    sa.Column('route', sa.String(length=300), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exposure')),
    sa.UniqueConstraint('actor', 'member', 'route', name='uq_exposure_actor_member_route')
    )
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exposure_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_exposure_last_at'), ['last_at'], unique=False)
        batch_op.create_index('ix_exposure_member', ['member'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('group_key', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('detected_at', sa.DateTime(), nullable=False),
    sa.Column('aware_at', sa.DateTime(), nullable=True),
    sa.Column('aware_by', sa.String(length=100), nullable=True),
    sa.Column('contained_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('data_was_public', sa.Boolean(), nullable=False),
    sa.Column('aggregated', sa.Boolean(), nullable=False),
    sa.Column('assessment', sa.JSON(), nullable=True),
    sa.Column('assessed_at', sa.DateTime(), nullable=True),
    sa.Column('notifiable', sa.Boolean(), nullable=True),
    sa.Column('reasoning', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('group_key', name=op.f('uq_incidents_group_key'))
    )
    op.create_table('members',
    sa.Column('alias', sa.String(length=300), nullable=False),
    sa.Column('member_id', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.PrimaryKeyConstraint('alias', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_member_id'), ['member_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('respondent', sa.String(length=300), nullable=False),
    sa.Column('respondent_address', sa.Text(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('actors', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_at', sa.DateTime(), nullable=True),
    sa.Column('deletion_confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('deletion_document', sa.String(length=500), nullable=True),
    sa.Column('deletion_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_cases_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_incident_id'), ['incident_id'], unique=False)

    op.create_table('decision_actors',
    sa.Column('decision_pk', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['decision_pk'], ['decisions.id'],
                            name=op.f('fk_decision_actors_decision_pk_decisions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('decision_pk', 'actor', name=op.f('pk_decision_actors'))
    )
    with op.batch_alter_table('decision_actors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_actors_actor'), ['actor'], unique=False)

    op.create_table('incident_actors',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_incident_actors_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', 'actor', name=op.f('pk_incident_actors'))
    )
    with op.batch_alter_table('incident_actors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_actors_actor'), ['actor'], unique=False)

    op.create_table('incident_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_incident_steps_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_steps'))
    )
    with op.batch_alter_table('incident_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_steps_incident_id'), ['incident_id'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('regime', sa.String(length=40), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('drafted_by', sa.String(length=100), nullable=False),
    sa.Column('drafted_at', sa.DateTime(), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('sent_by', sa.String(length=100), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_notices_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_incident_id'), ['incident_id'], unique=False)

    op.create_table('case_letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_case_letters_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_letters'))
    )
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_letters_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_case_steps_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_steps'))
    )
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_steps_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_steps_case_id'))

    op.drop_table('case_steps')
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_letters_case_id'))

    op.drop_table('case_letters')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_incident_id'))

    op.drop_table('notices')
    with op.batch_alter_table('incident_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_steps_incident_id'))

    op.drop_table('incident_steps')
    with op.batch_alter_table('incident_actors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_actors_actor'))

    op.drop_table('incident_actors')
    with op.batch_alter_table('decision_actors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_actors_actor'))

    op.drop_table('decision_actors')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_incident_id'))

    op.drop_table('cases')
    op.drop_table('users')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_member_id'))

    op.drop_table('members')
    op.drop_table('incidents')
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.drop_index('ix_exposure_member')
        batch_op.drop_index(batch_op.f('ix_exposure_last_at'))
        batch_op.drop_index(batch_op.f('ix_exposure_actor'))

    op.drop_table('exposure')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_decision_id'))
        batch_op.drop_index(batch_op.f('ix_decisions_campaign'))
        batch_op.drop_index(batch_op.f('ix_decisions_at'))

    op.drop_table('decisions')
    op.drop_table('audit_log')
    op.drop_table('audit_head')
