"""reference registries: insured people, professionals, postal letters

Revision ID: d4e2_registry
Revises: c3d1_enrolment
Create Date: 2026-11-28 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = 'd4e2_registry'
down_revision = 'c3d1_enrolment'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registry_insured',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nir_hash', sa.String(length=64), nullable=False),
    sa.Column('nir_encrypted', sa.Text(), nullable=False),
    sa.Column('card_serial', sa.String(length=16), nullable=True),
    sa.Column('birth_family_name', sa.String(length=200), nullable=False),
    sa.Column('usage_family_name', sa.String(length=200), nullable=True),
    sa.Column('given_names', sa.String(length=200), nullable=False),
    sa.Column('birthdate', sa.Date(), nullable=False),
    sa.Column('postcode', sa.String(length=5), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('mobile', sa.String(length=32), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['registry_insured.id'], name=op.f('fk_registry_insured_parent_id_registry_insured'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_insured')),
    sa.UniqueConstraint('nir_hash', name=op.f('uq_registry_insured_nir_hash'))
    )
    with op.batch_alter_table('registry_insured', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_insured_parent_id'), ['parent_id'], unique=False)

    op.create_table('registry_professional',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finess', sa.String(length=9), nullable=False),
    sa.Column('birth_family_name', sa.String(length=200), nullable=False),
    sa.Column('given_names', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('confidential_code_hash', sa.String(length=64), nullable=True),
    sa.Column('legacy_password_hash', sa.String(length=255), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('postcode', sa.String(length=5), nullable=False),
    sa.Column('city', sa.String(length=150), nullable=False),
    sa.Column('imported_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_professional')),
    sa.UniqueConstraint('finess', name=op.f('uq_registry_professional_finess'))
    )

    op.create_table('registry_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('exported_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['professional_id'], ['registry_professional.id'], name=op.f('fk_registry_letter_professional_id_registry_professional'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_letter'))
    )
    with op.batch_alter_table('registry_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_letter_exported_at'), ['exported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_letter_professional_id'), ['professional_id'], unique=False)


def downgrade():
    with op.batch_alter_table('registry_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_letter_professional_id'))
        batch_op.drop_index(batch_op.f('ix_registry_letter_exported_at'))

    op.drop_table('registry_letter')
    op.drop_table('registry_professional')
    with op.batch_alter_table('registry_insured', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_insured_parent_id'))

    op.drop_table('registry_insured')
