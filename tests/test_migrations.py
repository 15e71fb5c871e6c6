"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from idp.extensions import db
from idp.models import Base


def test_migrated_schema_matches_models(app):
    # The `app` fixture built its database with `upgrade()` from an empty one.
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
