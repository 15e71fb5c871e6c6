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
    pass


def downgrade():
    pass
