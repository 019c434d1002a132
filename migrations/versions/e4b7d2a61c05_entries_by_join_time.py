"""entries by join time: ix_entries_event_joined (event_id, joined_at), for the console's joins of the last minute

Revision ID: e4b7d2a61c05
Revises: c7e2a91f4b30
Create Date: 2026-11-29 06:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e4b7d2a61c05'
down_revision = 'c7e2a91f4b30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.create_index('ix_entries_event_joined', ['event_id', 'joined_at'], unique=False)


def downgrade():
    with op.batch_alter_table('entries', schema=None) as batch_op:
        batch_op.drop_index('ix_entries_event_joined')
