"""login throttling, email change, account deletion

Revision ID: g2_account_lifecycle
Revises: g1_mfa
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = "g2_account_lifecycle"
down_revision = "g1_mfa"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_failure_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_login_throttle_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttle')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_login_throttle_key_hash'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_throttle_last_failure_at'), ['last_failure_at'], unique=False)

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deletion_scheduled_at', idp.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_account_deletion_scheduled_at'), ['deletion_scheduled_at'], unique=False)


def downgrade():
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_deletion_scheduled_at'))
        batch_op.drop_column('deletion_scheduled_at')

    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_last_failure_at'))
        batch_op.drop_index(batch_op.f('ix_login_throttle_account_id'))

    op.drop_table('login_throttle')
