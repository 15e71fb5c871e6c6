"""idp.direct: the token endpoint's writes skip SQLAlchemy's execution context, and must
still write what Connection.execute writes, in the session's transaction, with its errors."""

import datetime as dt

import pytest
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError

from idp.direct import Direct
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import utcnow
from idp.oidc.models import Token

AUDIT = AuditEvent.__table__


def audit_row(event: str, **extra) -> dict:
    return {
        "created_at": utcnow(),
        "event": event,
        "account_id": None,
        "client_id": "portal",
        "ip": "192.0.2.7",
        "user_agent": "Firefox",
        "details": {"grant": "client_credentials", "n": 3, "é": ["à", None]},
        **extra,
    }


def token_row(**extra) -> dict:
    now = utcnow()
    return {
        "client_id": "portal",
        "account_id": None,
        "access_token_hash": "a" * 64,
        "refresh_token_hash": None,
        "scope": "openid",
        "family_id": "f1",
        "sid": None,
        "auth_time": None,
        "acr": None,
        "amr": ["pwd", "otp"],
        "claims_request": {"userinfo": {"email": {"essential": True}}},
        "issued_at": now,
        "access_expires_at": now + dt.timedelta(seconds=600),
        "refresh_expires_at": None,
        "revoked_at": None,
        "rotated_at": None,
        **extra,
    }


def test_a_direct_insert_writes_what_connection_execute_writes(app_ctx):
    at = dt.datetime(2026, 11, 28, 3, 4, 5, 678901, tzinfo=dt.UTC)
    Direct(AUDIT.insert()).execute(audit_row("direct", created_at=at))
    db.session.connection().execute(AUDIT.insert(), audit_row("core", created_at=at))
    db.session.commit()
    rows = {
        row.event: row
        for row in db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == "portal"))
    }
    direct, core = rows["direct"], rows["core"]
    for column in ("created_at", "account_id", "client_id", "ip", "user_agent", "details"):
        assert getattr(direct, column) == getattr(core, column), column
    assert direct.created_at.replace(tzinfo=dt.UTC) == at
    assert direct.details == {"grant": "client_credentials", "n": 3, "é": ["à", None]}


def test_json_and_nulls_of_a_token_row_read_back(app_ctx):
    Direct(Token.__table__.insert()).execute(token_row())
    db.session.commit()
    token = db.session.scalar(select(Token).where(Token.family_id == "f1"))
    assert token.amr == ["pwd", "otp"]
    assert token.claims_request == {"userinfo": {"email": {"essential": True}}}
    assert token.refresh_token_hash is None and token.revoked_at is None


def test_an_update_returns_the_rows_it_changed(app_ctx):
    Direct(Token.__table__.insert()).execute(token_row())
    db.session.commit()
    token_id = db.session.scalar(select(Token.id).where(Token.family_id == "f1"))
    table = Token.__table__
    rotate = Direct(
        update(table).where(table.c.id == bindparam("token_id"), table.c.rotated_at.is_(None))
    )
    assert rotate.execute({"token_id": token_id, "rotated_at": utcnow()}) == 1
    assert rotate.execute({"token_id": token_id, "rotated_at": utcnow()}) == 0  # already
    assert rotate.execute({"token_id": token_id + 1000, "rotated_at": utcnow()}) == 0


def test_the_write_belongs_to_the_session_transaction(app_ctx):
    Direct(AUDIT.insert()).execute(audit_row("rolled.back"))
    db.session.rollback()
    Direct(AUDIT.insert()).execute(audit_row("kept"))
    db.session.commit()
    events = db.session.scalars(select(AuditEvent.event)).all()
    assert "kept" in events and "rolled.back" not in events


def test_a_constraint_violation_is_sqlalchemy_s_integrity_error(app_ctx):
    insert = Direct(Token.__table__.insert())
    insert.execute(token_row())
    with pytest.raises(IntegrityError):
        insert.execute(token_row(family_id="f2"))  # the same access_token_hash
    db.session.rollback()
    assert db.session.scalar(select(Token.id).where(Token.family_id == "f1")) is None


def test_a_column_left_to_its_default_is_refused_before_anything_is_sent(app_ctx):
    row = audit_row("no.details")
    del row["details"]  # AuditEvent.details has a Python default (dict)
    with pytest.raises(ValueError, match="details"):
        Direct(AUDIT.insert()).execute(row)


def test_a_lost_connection_is_invalidated_and_the_next_request_gets_a_new_one(app_ctx):
    # What a database restart does to a pooled connection, on either database.
    db.session.connection().connection.dbapi_connection.close()
    with pytest.raises(DBAPIError) as raised:
        Direct(AUDIT.insert()).execute(audit_row("lost"))
    assert raised.value.connection_invalidated
    db.session.rollback()
    Direct(AUDIT.insert()).execute(audit_row("after"))
    db.session.commit()
    assert db.session.scalars(select(AuditEvent.event)).all() == ["after"]


def test_an_insert_reads_nothing_back(app_ctx):
    # Connection.execute would add RETURNING id on PostgreSQL; nothing here reads it.
    insert = Direct(AUDIT.insert())
    insert.execute(audit_row("one"))
    dialect = db.session.connection().dialect
    compiled = insert._compile(dialect, tuple(audit_row("x")))
    assert compiled.sql.startswith("INSERT INTO audit_event") and "RETURNING" not in compiled.sql
