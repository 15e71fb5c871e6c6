"""several upstream providers

Revision ID: g4_federation_upstreams
Revises: g3_admin
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = "g4_federation_upstreams"
down_revision = "g3_admin"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('federated_identity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upstream', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('federated_identity', schema=None) as batch_op:
        batch_op.drop_column('upstream')
