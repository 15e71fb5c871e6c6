"""`idp` command line: keys, clients, users, purge, back-channel retries."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata

import click
from flask import Flask
from flask import current_app
from flask.cli import AppGroup
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from sqlalchemy import select

from idp.extensions import db


def _create_app() -> Flask:
    from idp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """idp: OpenID Connect identity provider."""


def _fail(message: str) -> None:
    raise click.ClickException(message)


class Text(click.ParamType):
    """A one-line value an operator types: bounded, without control or bidi characters
    (stored, then shown in a terminal or a page), empty only where it means "none"."""

    name = "text"

    def __init__(self, max_length: int, allow_empty: bool = False, pattern: str = "") -> None:
        self.max_length = max_length
        self.allow_empty = allow_empty
        self.pattern = re.compile(pattern) if pattern else None

    def convert(self, value, param, ctx):
        if not isinstance(value, str):  # a default
            return value
        if not value.strip() and not (self.allow_empty and value == ""):
            self.fail("valeur vide.", param, ctx)
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
            self.fail("caractère de contrôle ou invisible refusé.", param, ctx)
        if len(value) > self.max_length:
            self.fail(f"{self.max_length} caractères au plus.", param, ctx)
        if self.pattern and not self.pattern.fullmatch(value):
            self.fail("caractères non autorisés.", param, ctx)
        return value


def limit_option(default: int, help: str):  # noqa: A002 (click's own name)
    """`--limit N`: how many at most, 1 to 100,000 (a negative one meant "all" on SQLite)."""
    return click.option(
        "--limit", type=click.IntRange(1, 100_000), default=default, show_default=True, help=help
    )


# Column sizes (idp/models.py, idp/oidc/models.py); URIs as the backchannel column.
IDENTIFIER = Text(254)  # an email or a username
CLIENT_ID = Text(64)
# A client_id typed on a command line and in portals' settings: never read as an option.
NEW_CLIENT_ID = Text(64, pattern=r"[A-Za-z0-9][A-Za-z0-9._~-]*")
CLIENT_NAME = Text(150)
URI = Text(500)


# keys ---------------------------------------------------------------------
keys = AppGroup("keys", help="Signing keys (JWKS).")


@keys.command("generate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default=None)
def keys_generate(alg: str | None) -> None:
    """Create the active key, or the next key when an active one exists."""
    store = current_app.extensions["idp_keys"]
    try:
        key = store.generate(alg or current_app.config["KEY_ALG"])
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"{key.kid} {key.alg} {key.status}")


@keys.command("rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default=None)
def keys_rotate(alg: str | None) -> None:
    """Retire the active key, promote the next one, prepare a new next key."""
    key = current_app.extensions["idp_keys"].rotate(alg or current_app.config["KEY_ALG"])
    click.echo(f"active: {key.kid} {key.alg}")


@keys.command("list")
def keys_list() -> None:
    """List keys with their status; * marks the ones published in the JWKS."""
    store = current_app.extensions["idp_keys"]
    published = {k["kid"] for k in store.public_jwks()["keys"]}
    for key in store.all():
        mark = "*" if key.kid in published else " "
        retired = f" retired {key.retired_at:%Y-%m-%d %H:%M}" if key.retired_at else ""
        click.echo(
            f"{mark} {key.kid} {key.alg} {key.status} created {key.created_at:%Y-%m-%d}{retired}"
        )


# clients ------------------------------------------------------------------
clients = AppGroup("clients", help="Portals (OAuth clients).")


def _client_or_fail(client_id: str):
    from idp.oidc.clients import get_client

    client = get_client(client_id)
    if client is None:
        _fail(f"Client inconnu : {client_id}")
    return client


@clients.command("create")
@click.option("--name", type=CLIENT_NAME, required=True)
@click.option("--redirect-uri", "redirect_uris", type=URI, multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout", type=URI, multiple=True)
@click.option("--scope", type=Text(500), default="openid profile email")
@click.option("--public", is_flag=True, help="Public client (no secret, PKCE S256).")
@click.option("--consent/--no-consent", default=False)
@click.option("--subject-type", type=click.Choice(["public", "pairwise"]), default="public")
@click.option(
    "--grant",
    "grants",
    type=Text(32),
    multiple=True,
    help="authorization_code, refresh_token, client_credentials",
)
@click.option("--backchannel-logout-uri", type=URI, default=None)
@click.option(
    "--client-id", type=NEW_CLIENT_ID, default=None, help="Fixed client_id (default: random)."
)
@click.option(
    "--journey", type=Text(64), default=None, help="Sign-up journey (citoyen, ars-interne…)."
)
@click.option(
    "--min-acr", type=Text(32), default=None, help="Minimum acr (eidas2 forces a second factor)."
)
@click.option("--json", "as_json", is_flag=True, help="Print client_id and client_secret as JSON.")
def clients_create(
    name,
    redirect_uris,
    post_logout,
    scope,
    public,
    consent,
    subject_type,
    grants,
    backchannel_logout_uri,
    client_id,
    journey,
    min_acr,
    as_json,
) -> None:
    """Register a portal; its secret is printed once."""
    from idp.oidc.clients import InvalidClientMetadata
    from idp.oidc.clients import create_client

    try:
        registered = create_client(
            name=name,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout),
            scope=scope,
            public=public,
            require_consent=consent,
            subject_type=subject_type,
            grants=list(grants) or None,
            backchannel_logout_uri=backchannel_logout_uri,
            client_id=client_id,
            journey=journey,
            min_acr=min_acr,
        )
    except InvalidClientMetadata as exc:
        _fail(str(exc))
    db.session.commit()
    if as_json:
        click.echo(
            json.dumps(
                {"client_id": registered.client.client_id, "client_secret": registered.secret}
            )
        )
    else:
        click.echo(f"client_id: {registered.client.client_id}")
        if registered.secret:
            click.echo(f"client_secret: {registered.secret}  (affiché une seule fois)")


@clients.command("list")
def clients_list() -> None:
    """List portals."""
    from idp.oidc.models import Client

    for client in db.session.scalars(select(Client).order_by(Client.name)):
        state = "désactivé" if client.disabled else "actif"
        click.echo(f"{client.client_id}\t{client.name}\t{state}")


@clients.command("show")
@click.argument("client_id", type=CLIENT_ID)
def clients_show(client_id: str) -> None:
    """Show a portal's registration as JSON."""
    from idp.oidc.clients import describe

    click.echo(json.dumps(describe(_client_or_fail(client_id)), indent=2, ensure_ascii=False))


@clients.command("update")
@click.argument("client_id", type=CLIENT_ID)
@click.option("--name", type=CLIENT_NAME, default=None)
@click.option("--redirect-uri", "redirect_uris", type=URI, multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout", type=URI, multiple=True)
@click.option("--scope", type=Text(500), default=None)
@click.option("--consent/--no-consent", default=None)
@click.option("--subject-type", type=click.Choice(["public", "pairwise"]), default=None)
@click.option("--grant", "grants", type=Text(32), multiple=True)
@click.option(
    "--backchannel-logout-uri",
    type=Text(500, allow_empty=True),
    default=None,
    help='Back-channel logout URI; "" removes it.',
)
@click.option(
    "--journey",
    type=Text(64, allow_empty=True),
    default=None,
    help='Sign-up journey; "" removes it.',
)
@click.option(
    "--min-acr",
    type=Text(32, allow_empty=True),
    default=None,
    help='Minimum acr (eidas2: 2 factors); "" removes it.',
)
@click.option("--disable/--enable", "disabled", default=None)
def clients_update(
    client_id,
    name,
    redirect_uris,
    post_logout,
    scope,
    consent,
    subject_type,
    grants,
    backchannel_logout_uri,
    journey,
    min_acr,
    disabled,
) -> None:
    """Change a portal's registration (given options replace the stored values)."""
    from idp.oidc.clients import InvalidClientMetadata
    from idp.oidc.clients import update_client

    changes = {
        "name": name,
        "redirect_uris": list(redirect_uris) or None,
        "post_logout_redirect_uris": list(post_logout) or None,
        "scope": scope,
        "require_consent": consent,
        "subject_type": subject_type,
        "grants": list(grants) or None,
        "disabled": disabled,
    }
    if backchannel_logout_uri is not None:
        changes["backchannel_logout_uri"] = backchannel_logout_uri
    if journey is not None:
        changes["journey"] = journey
    if min_acr is not None:
        changes["min_acr"] = min_acr
    try:
        update_client(
            _client_or_fail(client_id), **{k: v for k, v in changes.items() if v is not None}
        )
    except InvalidClientMetadata as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo("ok")


@clients.command("delete")
@click.argument("client_id", type=CLIENT_ID)
@click.confirmation_option(prompt="Supprimer ce client et ses jetons ?")
def clients_delete(client_id: str) -> None:
    """Delete a portal and every token issued to it."""
    from sqlalchemy import delete

    from idp.oidc.models import AuthorizationCode
    from idp.oidc.models import Consent
    from idp.oidc.models import Token
    from idp.security import audit

    client = _client_or_fail(client_id)
    for model in (Token, AuthorizationCode, Consent):
        db.session.execute(delete(model).where(model.client_id == client_id))
    db.session.delete(client)
    audit.record("client.deleted", client_id=client_id)
    db.session.commit()
    click.echo("supprimé")


@clients.command("rotate-secret")
@click.argument("client_id", type=CLIENT_ID)
@click.option("--json", "as_json", is_flag=True)
def clients_rotate_secret(client_id: str, as_json: bool) -> None:
    """Issue a new secret (printed once); the old one stops working."""
    from idp.oidc.clients import InvalidClientMetadata
    from idp.oidc.clients import rotate_secret

    try:
        secret = rotate_secret(_client_or_fail(client_id))
    except InvalidClientMetadata as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(json.dumps({"client_id": client_id, "client_secret": secret}) if as_json else secret)


# users --------------------------------------------------------------------
users = AppGroup("users", help="Accounts.")


@users.command("create")
@click.option("--email", type=Text(254), required=True)
# The login form takes at most 256 characters: a longer password could never be used.
@click.option("--password", type=Text(256), required=True)
@click.option("--username", type=Text(150), default=None)
@click.option("--given-name", type=Text(200), default=None)
@click.option("--family-name", type=Text(200), default=None)
@click.option("--birthdate", type=Text(10), default=None, help="YYYY-MM-DD")
@click.option("--active", is_flag=True, help="Active at once (email taken as verified).")
def users_create(email, password, username, given_name, family_name, birthdate, active) -> None:
    """Create an account."""
    from idp.accounts import InvalidAccountData
    from idp.accounts import create_account

    try:
        born = dt.date.fromisoformat(birthdate) if birthdate else None
    except ValueError:
        _fail("Date de naissance invalide : format AAAA-MM-JJ attendu.")
    if born and not dt.date(1900, 1, 1) <= born <= dt.datetime.now(dt.UTC).date():
        _fail("Date de naissance invalide : elle doit être passée (et après 1900).")
    try:
        account = create_account(
            email=email,
            password=password,
            username=username,
            given_name=given_name,
            family_name=family_name,
            birthdate=born,
            active=active,
        )
    except InvalidAccountData as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"{account.sub} {account.email} {account.status}")


@users.command("list")
def users_list() -> None:
    """List accounts."""
    from idp.models import Account

    for account in db.session.scalars(select(Account).order_by(Account.id)):
        click.echo(f"{account.sub}\t{account.email}\t{account.username or '-'}\t{account.status}")


@users.command("disable")
@click.argument("identifier", type=IDENTIFIER)
@click.option("--reason", type=Text(200), default="operator")
def users_disable(identifier: str, reason: str) -> None:
    """Disable an account (by email or username) and revoke its sessions and tokens."""
    from idp.accounts import disable_account
    from idp.auth.services import find_account

    account = find_account(identifier)
    if account is None:
        _fail(f"Compte inconnu : {identifier}")
    disable_account(account, reason)
    db.session.commit()
    from idp.oidc.backchannel import run_pending

    run_pending()  # in the foreground: a CLI process does not outlive a background thread
    click.echo(f"{account.email} désactivé")


@users.command("unlock")
@click.argument("identifier", type=IDENTIFIER)
def users_unlock(identifier: str) -> None:
    """Lift a login lock (too many wrong passwords) of an account, by email or username."""
    from idp.auth.lockout import unlock
    from idp.auth.services import find_account

    account = find_account(identifier)
    if account is None:
        _fail(f"Compte inconnu : {identifier}")
    was_locked = unlock(account, reason="operator")
    db.session.commit()
    click.echo(f"{account.email} débloqué" if was_locked else f"{account.email} n'était pas bloqué")


@users.command("grant-role")
@click.argument("identifier", type=IDENTIFIER)
@click.argument("role", type=click.Choice(["admin", "helpdesk"]))
def users_grant_role(identifier: str, role: str) -> None:
    """Give an account (email or username) a console role: admin or helpdesk."""
    from idp.admin.services import grant_role
    from idp.auth.services import find_account

    account = find_account(identifier)
    if account is None:
        _fail(f"Compte inconnu : {identifier}")
    changed = grant_role(account, role)
    db.session.commit()
    click.echo(f"{account.email} : rôle {role} {'accordé' if changed else 'déjà détenu'}")


@users.command("revoke-role")
@click.argument("identifier", type=IDENTIFIER)
@click.argument("role", type=click.Choice(["admin", "helpdesk"]))
def users_revoke_role(identifier: str, role: str) -> None:
    """Take a console role back from an account (email or username)."""
    from idp.admin.services import revoke_role
    from idp.auth.services import find_account

    account = find_account(identifier)
    if account is None:
        _fail(f"Compte inconnu : {identifier}")
    changed = revoke_role(account, role)
    db.session.commit()
    click.echo(f"{account.email} : rôle {role} {'retiré' if changed else 'non détenu'}")


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete rows that can no longer be used (run daily from cron); print what went.

    \b
    Each count printed names what was removed:
      codes               authorization codes expired more than an hour ago
      tokens              tokens whose access and refresh lifetimes (or revocation) are
                          over by more than an hour
      sessions            SSO sessions expired or ended more than an hour ago
      backchannel         back-channel logout deliveries older than 7 days
      federation_flows    upstream (FranceConnect…) round trips nobody finished
      accounts_erased     accounts whose deletion grace period is over: personal data erased
      login_throttles     failed-login counters idle for a day and not locking anything
      remembered_devices  remembered devices expired, or revoked more than an hour ago
      totp_setups         authenticator apps never confirmed within a day
      one_time_codes      second-factor and phone-change codes expired, used or superseded
                          more than an hour ago
      accounts            pending accounts never activated within 21 days
      enrolments          sign-ups abandoned past their expiry, or awaiting activation for
                          21 days
      messages            outbox mails and SMS sent, or given up, more than 30 days ago
    """
    from idp.enrolment.services import purge_pending
    from idp.notify import purge_sent
    from idp.purge import purge

    counts = purge() | purge_pending() | {"messages": purge_sent()}
    db.session.commit()
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


backchannel_group = AppGroup("backchannel", help="Back-channel logout deliveries.")


@backchannel_group.command("retry")
def backchannel_retry() -> None:
    """Send the logout tokens still waiting (run from cron)."""
    from idp.oidc.backchannel import run_pending

    click.echo(f"delivered={run_pending()}")


def register_cli(app: Flask) -> None:
    for group in (keys, clients, users, purge_command, backchannel_group):
        app.cli.add_command(group)
    __import__("idp.registry", fromlist=["init_app"]).init_app(app)  # registry models + CLI
