"""Fixtures: the app on SQLite or PostgreSQL (IDP_TEST_DATABASE_URL), CSRF on."""

from __future__ import annotations

import os
import socket

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from idp.models import Base
from idp.oidc.server import ClientCache
from tests.factories import Factories

ISSUER = "http://localhost"
SECRET = "test-secret-key-that-is-long-enough-for-validation-0123456789"


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'idp.sqlite3'}"


def reset_database(app) -> None:
    """Drop everything, then build the schema with the Alembic migrations."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(db.engine)
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision="heads")  # several heads may exist while branches are merged


def make_config(tmp_path_factory, **extra) -> dict:
    keys_dir = extra.pop("KEYS_DIR", None) or str(tmp_path_factory.mktemp("keys"))
    return {
        "TESTING": True,
        "ISSUER": ISSUER,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url(tmp_path_factory),
        "KEYS_DIR": keys_dir,
        # Cheap argon2 for speed; the OWASP cost has its own test.
        "ARGON2_MEMORY_KIB": 1024,
        "ARGON2_TIME_COST": 1,
        "RATELIMIT_ENABLED": False,
        **extra,
    }


def server_env(tmp_path, **extra: str) -> dict[str, str]:
    """The environment of an idp process started by a test: none of the caller's IDP_*
    settings, a database and keys of its own in `tmp_path`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
        "IDP_SECRET_KEY": "s" * 48,
        "IDP_KEYS_DIR": str(tmp_path),
        **extra,
    }


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(make_config(tmp_path_factory))
    reset_database(app)
    with app.app_context():
        app.extensions["idp_keys"].generate("RS256")
    yield app
    dispose(app)


@pytest.fixture
def make_app(app, tmp_path_factory):
    """Another instance on the same database and keys, with settings changed."""
    made = []

    def build(**overrides):
        config = make_config(
            tmp_path_factory,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            **overrides,
        )
        made.append(create_app(config))
        return made[-1]

    yield build
    for other in made:
        dispose(other)
    # Flask-Limiter is one extension object: the last init_app sets `enabled` and the
    # storage for every app of the process. Give the session app its settings back.
    from idp.extensions import limiter

    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    if getattr(limiter, "_storage", None) is not None:  # none when never enabled
        limiter.reset()


@pytest.fixture(autouse=True)
def clean_tables(app):
    yield
    ClientCache.clear_every()  # the rows go below without the ORM, under every app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factories(app):
    return Factories(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
