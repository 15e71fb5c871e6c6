"""Factories for accounts and portals, and a driver for the code flow over HTTP."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from idp.accounts import create_account
from idp.extensions import db
from idp.oidc.clients import create_client

PASSWORD = "Correct-Horse-42"
REDIRECT = "https://portal.example/callback"
POST_LOGOUT = "https://portal.example/logged-out"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


@dataclass
class Portal:
    client_id: str
    secret: str | None
    redirect_uri: str = REDIRECT


@dataclass
class Person:
    id: int
    sub: str
    email: str
    password: str = PASSWORD


class Factories:
    def __init__(self, app):
        self.app = app

    def account(
        self, email="marie.curie@example.fr", password=PASSWORD, active=True, **kw
    ) -> Person:
        with self.app.app_context():
            kw.setdefault("given_name", "Marie")
            kw.setdefault("family_name", "CURIE")
            account = create_account(email=email, password=password, active=active, **kw)
            db.session.commit()
            return Person(account.id, account.sub, account.email, password)

    def portal(self, **kw) -> Portal:
        kw.setdefault("name", "Portail de test")
        kw.setdefault("redirect_uris", [REDIRECT])
        kw.setdefault("post_logout_redirect_uris", [POST_LOGOUT])
        kw.setdefault("scope", "openid profile email phone address")
        with self.app.app_context():
            registered = create_client(**kw)
            db.session.commit()
            uris = kw["redirect_uris"] or [""]
            return Portal(registered.client.client_id, registered.secret, uris[0])


@dataclass
class Flow:
    """Drives one authorization code flow through the real pages."""

    client: object
    portal: Portal
    scope: str = "openid profile email"
    extra: dict = field(default_factory=dict)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str = ""
    challenge: str = ""

    def __post_init__(self):
        self.verifier, self.challenge = pkce_pair()

    def params(self, **overrides) -> dict:
        params = {
            "response_type": "code",
            "client_id": self.portal.client_id,
            "redirect_uri": self.portal.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **self.extra,
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, **overrides):
        return self.client.get("/authorize?" + urlencode(self.params(**overrides)))

    def login(self, login_response, identifier, password):
        assert login_response.status_code == 302, login_response.status_code
        location = login_response.headers["Location"]
        assert location.startswith("/connexion")
        page = self.client.get(location)
        return self.client.post(
            location,
            data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page.text)},
        )

    def follow_to_callback(self, response):
        """Follow local redirects until one leaves for the portal; return its query."""
        for _ in range(5):
            assert response.status_code == 302, (response.status_code, response.text[:500])
            location = response.headers["Location"]
            if not location.startswith("/"):
                assert location.startswith(self.portal.redirect_uri), location
                return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            response = self.client.get(location)
        raise AssertionError("too many redirects")

    def code(self, person: Person, **overrides) -> str:
        response = self.authorize(**overrides)
        if response.headers.get("Location", "").startswith("/connexion"):
            response = self.login(response, person.email, person.password)
        query = self.follow_to_callback(response)
        assert "code" in query, query
        assert query["state"] == self.state
        return query["code"]

    def token(self, code: str, **extra):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.portal.redirect_uri,
            "code_verifier": self.verifier,
            **extra,
        }
        return self.client.post("/token", data=data, auth=self.auth())

    def auth(self):
        return (self.portal.client_id, self.portal.secret) if self.portal.secret else None

    def tokens(self, person: Person, **overrides) -> dict:
        response = self.token(self.code(person, **overrides))
        assert response.status_code == 200, response.text
        return response.get_json()


def mark_second_factor_passed(app, account_id: int) -> None:
    """Mark the account's SSO sessions as having passed a second factor (eidas2)."""
    from sqlalchemy import update

    from idp.oidc.models import BrowserSession

    with app.app_context():
        db.session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == account_id)
            .values(acr="eidas2", amr=["pwd", "mail"])
        )
        db.session.commit()
