"""presence by connection: every participant or coordinator socket is a row in `connections` tagged with its server
process; `processes` records when each process last said it was alive; the `online` counters go.

Open connections are not worth keeping across an upgrade (every process restarts for it, and clients reconnect), so
`connections` is made anew.

Revision ID: 5d2a9c0e7b41
Revises: 91f516c34422
Create Date: 2026-11-27 18:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2a9c0e7b41'
down_revision = '91f516c34422'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('connections')  # with its indexes
    op.create_table('connections',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('process', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connections_coordinator_id'), ['coordinator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_process'), ['process'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_token_hash'), ['token_hash'], unique=False)

    op.create_table('processes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('seen_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processes_seen_at'), ['seen_at'], unique=False)

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('online')
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.drop_column('online')


def downgrade():
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processes_seen_at'))
    op.drop_table('processes')

    op.drop_table('connections')  # with its indexes
    op.create_table('connections',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('coordinator_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connections_coordinator_id'), ['coordinator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_event_id'), ['event_id'], unique=False)
