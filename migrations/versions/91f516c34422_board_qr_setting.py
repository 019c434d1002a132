"""board qr setting: events.board_qr (show the join QR code on the observer board), default true

Revision ID: 91f516c34422
Revises: ce1bc812bcd7
Create Date: 2026-11-23 23:39:53.401185

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '91f516c34422'
down_revision = 'ce1bc812bcd7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('board_qr', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('board_qr')
