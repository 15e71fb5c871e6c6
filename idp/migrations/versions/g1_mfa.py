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
    pass


def downgrade():
    pass
