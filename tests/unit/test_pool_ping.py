"""Pooled connections are checked before use only after being idle, and a connection the
database closed meanwhile is replaced without the request noticing."""

import pytest
from sqlalchemy import text

from idp import pool
from idp.extensions import db


@pytest.fixture
def pings(app, monkeypatch):
    counted = []
    with app.app_context():
        dialect = db.engine.dialect
        original = dialect.do_ping

        def counting(dbapi_connection):
            counted.append(1)
            return original(dbapi_connection)

        monkeypatch.setattr(dialect, "do_ping", counting)
    return counted


def test_a_connection_used_a_moment_ago_is_not_pinged(app, client, pings):
    assert client.get("/.well-known/openid-configuration").status_code == 200
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
        db.session.execute(text("SELECT 1"))
        db.session.remove()
    assert pings == []


def test_a_connection_idle_for_longer_is_pinged_first(app, pings, monkeypatch):
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
    later = pool.time.monotonic() + app.config["DB_PING_AFTER_IDLE_SECONDS"] + 1
    monkeypatch.setattr(pool.time, "monotonic", lambda: later)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
    assert pings == [1]


def test_a_connection_the_database_closed_is_replaced_before_use(app, client, monkeypatch):
    with app.app_context():
        db.engine.pool.dispose()
        first, second = db.engine.connect(), db.engine.connect()
        if db.engine.dialect.name == "postgresql":
            first.close()
            second.close()  # two pooled connections, handed out oldest first
            # One of them kills the other's backend: what a restart or a failover does.
            with db.engine.connect() as admin:
                admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                admin.commit()
        else:
            # SQLite has no server: close the driver's connection behind the pool's back,
            # once it sits in the pool, instead.
            raw = first.connection.dbapi_connection
            first.close()
            second.close()
            raw.close()
    later = pool.time.monotonic() + app.config["DB_PING_AFTER_IDLE_SECONDS"] + 1
    monkeypatch.setattr(pool.time, "monotonic", lambda: later)
    # An unknown portal: the page says so (400) after looking it up in the database.
    response = client.get("/authorize", query_string={"client_id": "nobody"})
    assert response.status_code == 400
    with app.app_context():
        db.engine.pool.dispose()  # whatever else the kill reached
