"""join gates and proof of work: per-event gate (open, onsite, approval) with its code secret, a pause for joining,
the grace for unreachable people and the flood alarm's threshold; when a phone first opened a live page; the spent
proofs of work (so a solution cannot be used twice).

Revision ID: a8c3f1d2e9b7
Revises: 5d2a9c0e7b41
Create Date: 2026-11-28 20:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a8c3f1d2e9b7'
down_revision = '5d2a9c0e7b41'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gate', sa.String(length=8), server_default='open', nullable=False))
        batch_op.add_column(sa.Column('gate_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('gate_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('joining_paused', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('unreachable_ms', sa.BigInteger(), server_default='30000', nullable=False))
        batch_op.add_column(sa.Column('flood_per_min', sa.Integer(), server_default='20', nullable=False))
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live_at', sa.BigInteger(), nullable=True))
    op.create_table('pow_spent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('pow_spent', schema=None) as batch_op:
        batch_op.create_index('ix_pow_spent_event_expires', ['event_id', 'expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('pow_spent', schema=None) as batch_op:
        batch_op.drop_index('ix_pow_spent_event_expires')
    op.drop_table('pow_spent')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('live_at')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('flood_per_min')
        batch_op.drop_column('unreachable_ms')
        batch_op.drop_column('joining_paused')
        batch_op.drop_column('gate_epoch')
        batch_op.drop_column('gate_secret')
        batch_op.drop_column('gate')
