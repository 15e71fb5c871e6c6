"""The Alembic migrations build exactly the schema the models describe."""

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy import make_url
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from idp import create_app
from idp.accounts import create_account
from idp.extensions import db
from idp.models import Base
from idp.oidc.models import Consent
from tests.conftest import database_url
from tests.conftest import dispose
from tests.conftest import make_config


def test_migrated_schema_matches_models(app):
    # The `app` fixture built its database with `upgrade()` from an empty one.
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


@pytest.fixture
def scratch_app(tmp_path_factory):
    """An app on a database of its own (SQLite file, or a second PostgreSQL database next
    to the suite's), to run migrations step by step."""
    url = database_url(tmp_path_factory)
    admin = None
    if url.startswith("postgresql"):
        parts = make_url(url)
        name = f"{parts.database}_scratch"
        admin = create_engine(parts.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = parts.set(database=name).render_as_string(hide_password=False)
    app = create_app(make_config(tmp_path_factory, DATABASE_URL=url))
    yield app
    dispose(app)
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_consents_stored_twice_are_merged_and_a_second_one_is_refused(scratch_app):
    # Before h1, two answers to the consent page sent at once could store two rows.
    with scratch_app.app_context():
        upgrade(revision="g5_token_perf")
        account = create_account(email="double@example.fr", password=None, active=True)
        other = create_account(email="single@example.fr", password=None, active=True)
        early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        late = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        db.session.add_all(
            [
                Consent(
                    account_id=account.id, client_id="ameli", scope="openid email", granted_at=early
                ),
                Consent(
                    account_id=account.id,
                    client_id="ameli",
                    scope="openid profile",
                    granted_at=late,
                ),
                Consent(account_id=account.id, client_id="mes", scope="openid", granted_at=early),
                Consent(
                    account_id=other.id, client_id="ameli", scope="openid phone", granted_at=early
                ),
            ]
        )
        db.session.commit()
        account_id, other_id = account.id, other.id

        upgrade(revision="heads")

        rows = db.session.execute(
            select(
                Consent.account_id, Consent.client_id, Consent.scope, Consent.granted_at
            ).order_by(Consent.account_id, Consent.client_id)
        ).all()
        assert [tuple(r) for r in rows] == [
            (account_id, "ameli", "email openid profile", late),
            (account_id, "mes", "openid", early),
            (other_id, "ameli", "openid phone", early),
        ]
        db.session.add(Consent(account_id=other_id, client_id="ameli", scope="openid"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
