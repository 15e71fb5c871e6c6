"""federation: upstream identities linked to accounts, upstream round trips

Revision ID: f6a4_federation
Revises: e5f3_mes
Create Date: 2026-11-27 12:59:48.318319

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = 'f6a4_federation'
down_revision = "e5f3_mes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('federated_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('acr', sa.String(length=32), nullable=True),
    sa.Column('certified_fields', sa.JSON(), nullable=False),
    sa.Column('linked_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_federated_identity_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federated_identity')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_federated_identity_subject')
    )
    with op.batch_alter_table('federated_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federated_identity_account_id'), ['account_id'], unique=False)

    op.create_table('federation_flow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('nonce_hash', sa.String(length=64), nullable=True),
    sa.Column('acr_requested', sa.String(length=32), nullable=True),
    sa.Column('return_to', sa.Text(), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('continuation_hash', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('claims', sa.JSON(), nullable=True),
    sa.Column('id_token', sa.Text(), nullable=True),
    sa.Column('acr', sa.String(length=32), nullable=True),
    sa.Column('amr', sa.JSON(), nullable=True),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', idp.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', idp.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['candidate_id'], ['account.id'], name=op.f('fk_federation_flow_candidate_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_flow')),
    sa.UniqueConstraint('continuation_hash', name=op.f('uq_federation_flow_continuation_hash')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_federation_flow_state_hash'))
    )
    with op.batch_alter_table('federation_flow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_flow_expires_at'), ['expires_at'], unique=False)



def downgrade():
    with op.batch_alter_table('federation_flow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federation_flow_expires_at'))

    op.drop_table('federation_flow')
    with op.batch_alter_table('federated_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_identity_account_id'))

    op.drop_table('federated_identity')
