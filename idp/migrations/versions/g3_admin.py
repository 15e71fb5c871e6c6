"""roles, portal settings for the console

Revision ID: g3_admin
Revises: g2_account_lifecycle
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = "g3_admin"
down_revision = "g2_account_lifecycle"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_role',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('granted_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_account_role_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['granted_by'], ['account.id'], name=op.f('fk_account_role_granted_by_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('account_id', 'role', name=op.f('pk_account_role'))
    )
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_uri', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('identifier_claims', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('password_policy', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('access_token_lifetime', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refresh_token_lifetime', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('id_token_lifetime', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.drop_column('id_token_lifetime')
        batch_op.drop_column('refresh_token_lifetime')
        batch_op.drop_column('access_token_lifetime')
        batch_op.drop_column('password_policy')
        batch_op.drop_column('identifier_claims')
        batch_op.drop_column('logo_uri')
    op.drop_table('account_role')
