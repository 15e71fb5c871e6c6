"""one consent per account and portal

Revision ID: h1_consent_unique
Revises: g5_token_perf
Create Date: 2026-11-27 23:40:00

Two answers to the consent page sent at once could store two rows for one person and
one portal (fixed in the code since: the answer locks the account row first). Rows
stored before are merged here — the union of their scopes, the latest date — and the
index becomes unique, so the database itself refuses a second row.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "h1_consent_unique"
down_revision = "g5_token_perf"
branch_labels = None
depends_on = None

INDEX = "ix_oauth_consent_account_client"


def _merge_duplicates() -> None:
    consent = sa.table(
        "oauth_consent",
        sa.column("id", sa.Integer),
        sa.column("account_id", sa.Integer),
        sa.column("client_id", sa.String),
        sa.column("scope", sa.Text),
        sa.column("granted_at"),
    )
    bind = op.get_bind()
    groups = bind.execute(
        sa.select(consent.c.account_id, consent.c.client_id)
        .group_by(consent.c.account_id, consent.c.client_id)
        .having(sa.func.count() > 1)
    ).all()
    for account_id, client_id in groups:
        rows = bind.execute(
            sa.select(consent.c.id, consent.c.scope)
            .where(consent.c.account_id == account_id, consent.c.client_id == client_id)
            .order_by(consent.c.granted_at.desc(), consent.c.id.desc())
        ).all()
        # Keep the latest answer's row (its date), with every scope any of them granted.
        scopes = sorted({s for row in rows for s in (row.scope or "").split()})
        bind.execute(
            sa.update(consent).where(consent.c.id == rows[0].id).values(scope=" ".join(scopes))
        )
        bind.execute(sa.delete(consent).where(consent.c.id.in_([r.id for r in rows[1:]])))


def upgrade():
    _merge_duplicates()
    op.drop_index(INDEX, table_name="oauth_consent")
    op.create_index(INDEX, "oauth_consent", ["account_id", "client_id"], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name="oauth_consent")
    op.create_index(INDEX, "oauth_consent", ["account_id", "client_id"], unique=False)
