"""token endpoint performance

Revision ID: g5_token_perf
Revises: g4_federation_upstreams
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models


# revision identifiers, used by Alembic.
revision = "g5_token_perf"
down_revision = "g4_federation_upstreams"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
