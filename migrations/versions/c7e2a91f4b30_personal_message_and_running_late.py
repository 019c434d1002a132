"""personal message and running late: entries.message/message_at (a coordinator's message to one person) and
entries.late_min/late_at (the person needs a few more minutes)

Revision ID: c7e2a91f4b30
Revises: a8c3f1d2e9b7
Create Date: 2026-11-28 20:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e2a91f4b30'
down_revision = 'a8c3f1d2e9b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.String(length=280), nullable=True))
        batch_op.add_column(sa.Column('message_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('late_min', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('late_at', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_column('late_at')
        batch_op.drop_column('late_min')
        batch_op.drop_column('message_at')
        batch_op.drop_column('message')
