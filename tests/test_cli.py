"""The `idp` command line, as an operator uses it."""

import json

from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import Client
from tests.factories import Flow


def create(runner, *args):
    return runner.invoke(args=["clients", "create", "--name", "ameli", *args])


def test_clients_create_prints_secret_once_and_stores_only_a_hash(app, runner):
    result = create(runner, "--redirect-uri", "https://ameli.example/cb", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == printed["client_id"]))
        assert client.secret_hash and printed["client_secret"] not in client.secret_hash
        assert client.check_client_secret(printed["client_secret"])
        assert client.grant_types == ["authorization_code", "refresh_token"]
    shown = runner.invoke(args=["clients", "show", printed["client_id"]])
    assert printed["client_secret"] not in shown.output
    assert json.loads(shown.output)["redirect_uris"] == ["https://ameli.example/cb"]


def test_clients_create_refuses_unsafe_redirect_uris(runner):
    for uri in ("http://ameli.example/cb", "https://*.example/cb", "https://a.example/cb#x", "x"):
        result = create(runner, "--redirect-uri", uri)
        assert result.exit_code != 0 and "URI refusée" in result.output, uri
    assert create(runner, "--redirect-uri", "http://127.0.0.1:8000/cb").exit_code == 0


def test_clients_create_options(app, runner):
    result = create(
        runner,
        "--redirect-uri", "https://a.example/cb",
        "--post-logout-redirect-uri", "https://a.example/bye",
        "--scope", "openid email",
        "--public", "--consent", "--subject-type", "pairwise",
        "--client-id", "fixed-id", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"client_id": "fixed-id", "client_secret": None}
    shown = json.loads(runner.invoke(args=["clients", "show", "fixed-id"]).output)
    assert shown["public"] and shown["require_consent"] and shown["subject_type"] == "pairwise"
    assert shown["token_endpoint_auth_method"] == "none"
    assert shown["post_logout_redirect_uris"] == ["https://a.example/bye"]
    assert create(
        runner, "--redirect-uri", "https://a.example/cb", "--client-id", "fixed-id"
    ).exit_code
    bad = create(runner, "--public", "--grant", "client_credentials")
    assert bad.exit_code and "client public" in bad.output
    assert create(
        runner, "--redirect-uri", "https://a.example/cb", "--scope", "openid root"
    ).exit_code


def test_clients_update_list_delete(app, runner):
    create(runner, "--redirect-uri", "https://a.example/cb", "--client-id", "c1")
    result = runner.invoke(
        args=["clients", "update", "c1", "--name", "Ameli", "--redirect-uri", "https://b.example/cb",
              "--grant", "client_credentials", "--disable"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(args=["clients", "show", "c1"]).output)
    assert shown["name"] == "Ameli" and shown["redirect_uris"] == ["https://b.example/cb"]
    assert shown["grant_types"] == ["client_credentials"] and shown["disabled"]
    assert "désactivé" in runner.invoke(args=["clients", "list"]).output
    assert runner.invoke(args=["clients", "update", "c1", "--redirect-uri", "ftp://x"]).exit_code
    assert runner.invoke(args=["clients", "update", "nope", "--name", "x"]).exit_code
    assert runner.invoke(args=["clients", "delete", "c1", "--yes"]).exit_code == 0
    assert runner.invoke(args=["clients", "show", "c1"]).exit_code != 0


def test_rotate_secret_invalidates_the_old_one(app, client, runner, factories):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[])
    rotated = runner.invoke(args=["clients", "rotate-secret", portal.client_id, "--json"])
    new_secret = json.loads(rotated.output)["client_secret"]
    data = {"grant_type": "client_credentials"}
    assert (
        client.post("/token", data=data, auth=(portal.client_id, portal.secret)).status_code == 401
    )
    assert client.post("/token", data=data, auth=(portal.client_id, new_secret)).status_code == 200
    public = factories.portal(public=True, client_id="pub")
    assert runner.invoke(args=["clients", "rotate-secret", public.client_id]).exit_code != 0


def test_users_create_list_disable(app, client, runner, factories):
    result = runner.invoke(
        args=["users", "create", "--email", "Jeanne.Martin@Example.fr", "--password", "Secret-123",
              "--username", "jmartin", "--given-name", "Jeanne", "--family-name", "MARTIN",
              "--birthdate", "1980-02-29", "--active"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["users", "list"]).output
    assert "jeanne.martin@example.fr" in listed and "active" in listed
    again = runner.invoke(
        args=["users", "create", "--email", "jeanne.martin@example.fr", "--password", "x"]
    )
    assert again.exit_code and "déjà utilisée" in again.output
    bad_date = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "a@example.fr",
            "--password",
            "x",
            "--birthdate",
            "29/02/1980",
        ]
    )
    assert bad_date.exit_code and "AAAA-MM-JJ" in bad_date.output
    bad_email = runner.invoke(
        args=["users", "create", "--email", "pas-un-email", "--password", "x"]
    )
    assert bad_email.exit_code and "invalide" in bad_email.output

    person = factories.account(email="p@example.fr")
    tokens = Flow(client, factories.portal()).tokens(person)
    assert runner.invoke(args=["users", "disable", "p@example.fr"]).exit_code == 0
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == "p@example.fr"))
        assert account.status == "disabled"
        events = db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.account_id == account.id)
        )
        assert "account.disabled" in set(events)
    assert runner.invoke(args=["users", "disable", "nobody@example.fr"]).exit_code != 0


def test_keys_commands(app, runner, tmp_path):
    listed = runner.invoke(args=["keys", "list"]).output
    assert "active" in listed
    assert "next" in runner.invoke(args=["keys", "generate"]).output
    assert runner.invoke(args=["keys", "generate"]).exit_code != 0
    old_active = app.extensions["idp_keys"].signing_key()[0].kid
    assert "active:" in runner.invoke(args=["keys", "rotate"]).output
    assert app.extensions["idp_keys"].signing_key()[0].kid != old_active
    assert f"* {old_active} RS256 retired" in runner.invoke(args=["keys", "list"]).output


def test_purge_removes_expired_rows_only(app, client, runner, factories):
    import datetime as dt

    from idp.oidc.models import AuthorizationCode
    from idp.oidc.models import Token

    person = factories.account()
    flow = Flow(client, factories.portal())
    expired = flow.tokens(person)
    live = flow.tokens(person)
    with app.app_context():
        old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        token = db.session.scalars(select(Token).order_by(Token.id)).first()
        token.access_expires_at = token.refresh_expires_at = token.issued_at = old
        for code in db.session.scalars(select(AuthorizationCode)):
            code.expires_at = old
        db.session.commit()
    output = runner.invoke(args=["purge"]).output
    assert "codes=2" in output and "tokens=1" in output
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Token)) == 1

    def refresh(tokens):
        data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        return client.post("/token", data=data, auth=flow.auth()).status_code

    assert (refresh(expired), refresh(live)) == (400, 200)


def test_generated_client_ids_are_safe_on_a_command_line(app, runner):
    # A client_id starting with "-" could not be passed to `idp clients show`.
    for _ in range(100):
        result = create(runner, "--redirect-uri", "https://ameli.example/cb", "--json")
        client_id = json.loads(result.output)["client_id"]
        assert client_id[0].isalnum(), client_id
        assert runner.invoke(args=["clients", "show", client_id]).exit_code == 0


def test_clients_create_refuses_malformed_uris(runner):
    for uri in ("https://[::1", "https://a.example:port/cb"):
        result = create(runner, "--redirect-uri", uri)
        assert result.exit_code != 0 and "mal formée" in result.output, (uri, result.output)


def test_purge_help_lists_every_count_the_purge_prints(runner):
    printed = runner.invoke(args=["purge"]).output.split()
    names = [item.split("=")[0] for item in printed if "=" in item]
    assert "messages" in names and "one_time_codes" in names
    help_text = runner.invoke(args=["purge", "--help"]).output
    for name in names:
        assert f"\n    {name} " in help_text, name


def users_create(runner, *args):
    return runner.invoke(args=["users", "create", "--email", "a@example.fr", *args])


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(model))


def test_users_create_refuses_a_password_nobody_could_log_in_with(app, runner):
    # The login form takes at most 256 characters; "" used to create an account without one.
    for password in ("", "   ", "x" * 257, "Correct-Horse-42\x00"):
        result = users_create(runner, "--password", password)
        assert result.exit_code == 2 and "--password" in result.output, repr(password)
    assert count(app, Account) == 0
    assert users_create(runner, "--password", "x" * 256).exit_code == 0


def test_users_create_refuses_a_birthdate_in_the_future(app, runner):
    result = users_create(runner, "--password", "Secret-123", "--birthdate", "2999-01-01")
    assert result.exit_code == 1 and "Date de naissance invalide" in result.output
    assert count(app, Account) == 0


def test_names_and_ids_with_control_characters_are_refused_not_stored(app, runner):
    # PostgreSQL refuses a NUL (and a too long name) with a traceback; SQLite stored them.
    for name in ("Ameli\x00", "Ameli\x1b[2J", "Ameli\u202e", "x" * 151, " "):
        result = create(runner, "--redirect-uri", "https://a.example/cb", "--name", name)
        assert result.exit_code == 2 and "--name" in result.output, repr(name)
        assert "\x00" not in result.output and "\x1b" not in result.output
    for client_id in ("-x", "a b", "x" * 65):
        result = create(runner, "--redirect-uri", "https://a.example/cb", "--client-id", client_id)
        assert result.exit_code == 2 and "--client-id" in result.output, client_id
    shown = runner.invoke(args=["clients", "show", "inconnu\x1b[2J"])
    assert shown.exit_code == 2 and "\x1b" not in shown.output
    assert count(app, Client) == 0


def test_outbox_test_refuses_a_malformed_address_and_queues_nothing(app, runner):
    from idp.notify.models import OutboxMessage

    for address in ("a@b@example.fr", "a@", "pas-un-email"):
        result = runner.invoke(args=["outbox", "test", "--to", address])
        assert result.exit_code == 2 and "Adresse électronique invalide" in result.output
    result = runner.invoke(args=["outbox", "test", "--to", "a@example.fr", "--sms", "+999"])
    assert result.exit_code == 1 and "invalid phone number" in result.output
    assert count(app, OutboxMessage) == 0


def test_counts_and_delays_must_be_sensible_numbers(runner):
    # -1 meant "no limit" on SQLite and an error on PostgreSQL; a huge one an OverflowError.
    for args in (
        ["outbox", "run", "--limit", "-1"],
        ["outbox", "list", "--limit", "0"],
        ["outbox", "purge", "--days", "-1"],
        ["outbox", "purge", "--days", "9" * 30],
        ["registry", "list", "--kind", "insured", "--limit", "9" * 30],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and "Invalid value for '--" in result.output, args
