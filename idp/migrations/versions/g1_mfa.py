"""second factors, remembered devices, portal minimum acr

Revision ID: g1_mfa
Revises: f6a4_federation
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = "g1_mfa"
down_revision = "f6a4_federation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mfa_totp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('enabled_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('last_used_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_mfa_totp_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_totp')),
    sa.UniqueConstraint('account_id', name=op.f('uq_mfa_totp_account_id'))
    )
    op.create_table('mfa_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_mfa_recovery_code_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_code')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_mfa_recovery_code_code_hash'))
    )
    with op.batch_alter_table('mfa_recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_recovery_code_account_id'), ['account_id'], unique=False)

    op.create_table('mfa_remembered_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=True),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_mfa_remembered_device_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_remembered_device')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_mfa_remembered_device_token_hash'))
    )
    with op.batch_alter_table('mfa_remembered_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_remembered_device_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mfa_remembered_device_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_acr', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.drop_column('min_acr')
    with op.batch_alter_table('mfa_remembered_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_remembered_device_expires_at'))
        batch_op.drop_index(batch_op.f('ix_mfa_remembered_device_account_id'))
    op.drop_table('mfa_remembered_device')
    with op.batch_alter_table('mfa_recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_recovery_code_account_id'))
    op.drop_table('mfa_recovery_code')
    op.drop_table('mfa_totp')
