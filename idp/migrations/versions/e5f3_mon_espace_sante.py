"""Mon espace santé: health spaces by NIR, accounts managed by another, code send limits

Revision ID: e5f3_mes
Revises: d4e2_registry
Create Date: 2026-11-29 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = 'e5f3_mes'
down_revision = 'd4e2_registry'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('health_space',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nir_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_space')),
    sa.UniqueConstraint('nir_hash', name=op.f('uq_health_space_nir_hash'))
    )

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('managed_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_account_managed_by_id'), ['managed_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_account_managed_by_id_account'), 'account', ['managed_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.create_index('ix_verification_destination_created', ['destination', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_destination_created')

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_account_managed_by_id_account'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_account_managed_by_id'))
        batch_op.drop_column('managed_by_id')

    op.drop_table('health_space')
