"""The portals' registrations kept by a process for /token, /introspect and /revoke.

A change made through the process (console, API, CLI) applies at the next request; one made
elsewhere (another instance, another process) within CLIENT_CACHE_SECONDS.
"""

import json

import pytest
from sqlalchemy import update

from idp.extensions import db
from idp.oidc import server as oidc_server
from idp.oidc.models import Client


@pytest.fixture
def portal(factories):
    return factories.portal(grants=["client_credentials"])


def machine_token(client, portal, secret=None):
    return client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(portal.client_id, secret or portal.secret),
    )


def disable_elsewhere(app, client_id: str) -> None:
    """What another process does: an UPDATE this process's ORM never sees."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(update(Client).where(Client.client_id == client_id).values(disabled=True))


def test_a_portal_disabled_in_the_console_is_refused_at_the_next_request(app, client, portal):
    from idp.admin.services import set_portal_disabled

    assert machine_token(client, portal).status_code == 200  # now kept by the process
    with app.app_context():
        registered = db.session.scalar(db.select(Client).filter_by(client_id=portal.client_id))
        set_portal_disabled(registered, True, actor=None, origin=None)
        db.session.commit()

    refused = machine_token(client, portal)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"


def test_a_secret_rotated_with_the_cli_applies_at_once(app, client, portal, runner):
    assert machine_token(client, portal).status_code == 200
    result = runner.invoke(args=["clients", "rotate-secret", portal.client_id, "--json"])
    assert result.exit_code == 0, result.output
    new_secret = json.loads(result.output)["client_secret"]

    assert machine_token(client, portal).status_code == 401
    assert machine_token(client, portal, secret=new_secret).status_code == 200


def test_a_portal_deleted_with_the_cli_is_refused_at_once(app, client, portal, runner):
    assert machine_token(client, portal).status_code == 200
    result = runner.invoke(args=["clients", "delete", portal.client_id, "--yes"])
    assert result.exit_code == 0, result.output
    assert machine_token(client, portal).status_code == 401


def test_a_change_made_by_another_process_applies_within_the_delay(
    app, client, portal, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(oidc_server.time, "monotonic", lambda: now[0])
    assert machine_token(client, portal).status_code == 200
    disable_elsewhere(app, portal.client_id)

    now[0] += app.config["CLIENT_CACHE_SECONDS"] - 1
    assert machine_token(client, portal).status_code == 200  # the documented delay
    now[0] += 2
    assert machine_token(client, portal).status_code == 401


def test_with_no_delay_every_request_reads_the_registration(make_app, portal):
    other = make_app(CLIENT_CACHE_SECONDS=0)
    client = other.test_client()
    assert machine_token(client, portal).status_code == 200
    disable_elsewhere(other, portal.client_id)
    assert machine_token(client, portal).status_code == 401


def test_unknown_client_ids_are_not_kept(app, client, portal):
    cache = app.extensions["idp_client_cache"]
    assert machine_token(client, portal).status_code == 200
    kept = len(cache._entries)
    for n in range(20):
        response = client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=(f"nobody-{n}", "x")
        )
        assert response.status_code == 401
    assert len(cache._entries) == kept == 1


def test_browser_pages_read_the_registration_each_time(app, client, factories):
    """The login pages never use the kept copy: a disabled portal cannot start a login."""
    portal = factories.portal()
    params = {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": portal.redirect_uri,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    assert client.get("/authorize", query_string=params).status_code == 302
    disable_elsewhere(app, portal.client_id)
    refused = client.get("/authorize", query_string=params)
    assert refused.status_code == 400
