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
    pass


def downgrade():
    pass
