"""What the token endpoint's lighter paths must keep: audit rows, rotation, sessions, CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.models import Token
from idp.security import audit
from idp.security import tokens
from tests.conftest import server_env
from tests.factories import Flow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal(grants=["authorization_code", "refresh_token", "client_credentials"])


def _issued_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == "token.issued").order_by(AuditEvent.id)
            )
        )


def test_every_grant_is_audited_once_with_its_grant_type(app, client, portal, person):
    first = Flow(client, portal).tokens(person)
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    machine = client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(portal.client_id, portal.secret)
    )
    assert machine.status_code == 200, machine.text

    events = _issued_events(app)
    assert [e.details["grant"] for e in events] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    assert [e.account_id for e in events] == [person.id, person.id, None]
    assert {e.client_id for e in events} == {portal.client_id}
    assert all(e.created_at is not None for e in events)


def test_refresh_rotation_is_stored_and_the_new_token_inherits_the_login(
    app, client, portal, person
):
    first = Flow(client, portal).tokens(person)
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    second = response.get_json()
    with app.app_context():
        old = db.session.scalar(
            select(Token).where(Token.refresh_token_hash == tokens.sha256(first["refresh_token"]))
        )
        new = db.session.scalar(
            select(Token).where(Token.refresh_token_hash == tokens.sha256(second["refresh_token"]))
        )
        assert old.rotated_at is not None and old.revoked_at is None
        assert new.rotated_at is None and new.family_id == old.family_id
        assert (new.sid, new.auth_time, new.acr, new.amr) == (
            old.sid,
            old.auth_time,
            old.acr,
            old.amr,
        )
        assert new.account_id == person.id and new.refresh_expires_at > new.access_expires_at


def test_audit_rows_commit_and_roll_back_with_the_action(app):
    with app.app_context():
        audit.record("test.rolled_back", client_id="p", reason="x")
        db.session.rollback()
        audit.record("test.kept", client_id="p", origin=audit.Origin("192.0.2.1", "ua"))
        db.session.commit()
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == "p")).all()
    assert [(r.event, r.ip, r.user_agent) for r in rows] == [("test.kept", "192.0.2.1", "ua")]


def test_token_endpoint_leaves_the_browser_session_alone(client, portal, person):
    flow = Flow(client, portal)
    first = flow.tokens(person)
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    # The browser is still logged in: a new authorization goes straight back to the portal.
    again = Flow(client, portal).authorize()
    assert again.status_code == 302
    assert again.headers["Location"].startswith(portal.redirect_uri)


def test_migration_commands_still_work(runner):
    """Flask-Migrate is loaded on demand: `db …` still reaches Alembic and the database."""
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert "Context impl" in result.output


def test_web_workers_do_not_import_migration_or_pdf_libraries(tmp_path):
    """A gunicorn worker imports wsgi.py only: Alembic, Mako, fpdf2 and zxcvbn wait."""
    code = (
        "import json, sys, wsgi; print(json.dumps(sorted("
        "m for m in ('alembic', 'mako', 'flask_migrate', 'fpdf', 'zxcvbn') if m in sys.modules)))"
    )
    env = server_env(tmp_path)
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
