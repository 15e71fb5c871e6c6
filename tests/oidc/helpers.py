"""Helpers for the OIDC HTTP tests: reading responses, checking JWTs, a portal's
back-channel endpoint, and the few database nudges that stand in for a clock."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import queue
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import update

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from tests.conftest import ISSUER
from tests.conftest import free_port
from tests.factories import csrf_of

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SESSION_COOKIES = ("idp_session", "idp_flask")


# responses -------------------------------------------------------------------
def query_of(location: str) -> dict[str, str]:
    """The query of a redirect, one value per name."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redirect_query(response, prefix: str) -> dict[str, str]:
    """Assert a redirect to `prefix` and return its query."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = response.headers["Location"]
    assert location.startswith(prefix), location
    return query_of(location)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def form_of(page: str) -> tuple[str, str]:
    """The action and CSRF token of the single form a page posts."""
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    assert match, "no form with an action on the page"
    return html.unescape(match.group(1)), csrf_of(page)


# JWTs --------------------------------------------------------------------------
def jwks(client) -> KeySet:
    """The key set a portal downloads from the provider's jwks_uri."""
    response = client.get("/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.get_json())


def verify_jwt(client, value: str):
    """Verify a JWT with the published keys, as a portal would; return the token."""
    token = jwt.decode(value, jwks(client))
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        iat={"essential": True},
        exp={"essential": True},
    )
    registry.validate(token.claims)
    return token


def id_token_claims(client, tokens: dict) -> dict:
    return verify_jwt(client, tokens["id_token"]).claims


def half_hash(value: str) -> str:
    """OIDC Core 3.1.3.6 at_hash for RS256: left half of SHA-256, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


# database: what a factory does not set, and the passing of time ---------------------
def update_account(app, account_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == account_id).values(**values))
        db.session.commit()


def update_rows(app, model, **values) -> None:
    """Set columns on every row of a table (the tests create one row at a time)."""
    with app.app_context():
        db.session.execute(update(model).values(**values))
        db.session.commit()


def seconds_ago(seconds: float) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=seconds)


def rows(app, model) -> list:
    with app.app_context():
        found = list(db.session.scalars(db.select(model)))
        db.session.expunge_all()
        return found


# browsers ----------------------------------------------------------------------
def copy_cookies(source, target) -> None:
    """Move the provider's cookies from one browser (test client) to another."""
    for name in SESSION_COOKIES:
        cookie = source.get_cookie(name)
        if cookie is None:
            target.delete_cookie(name)
        else:
            target.set_cookie(name, cookie.value)


def wait_for_backchannel_threads(timeout: float = 15) -> None:
    """Wait until the provider's background deliveries have finished."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name == "idp-backchannel":
            thread.join(max(0.0, deadline - time.monotonic()))
            assert not thread.is_alive(), "back-channel delivery still running"


# a portal's back-channel logout endpoint ------------------------------------------------
class Receiver:
    """A tiny HTTP server standing for a portal's backchannel_logout_uri."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: queue.Queue = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel-logout"

    def start(self) -> Receiver:
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                received.put(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type", ""),
                        "form": {k: v[0] for k, v in parse_qs(body).items()},
                    }
                )
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def wait(self, timeout: float = 5) -> dict:
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no back-channel logout POST within {timeout} s") from None


def log_in(client, person) -> None:
    """Log in on the provider's own page (no portal involved)."""
    page = client.get("/connexion")
    response = client.post(
        "/connexion",
        data={
            "identifier": person.email,
            "password": person.password,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 302, response.text[:300]


def error_redirect(response, portal, error: str, state: str | None) -> dict[str, str]:
    """Assert an authorization error sent back to the portal (RFC 6749 §4.1.2.1, RFC 9207)."""
    query = redirect_query(response, portal.redirect_uri)
    assert query.get("error") == error, query
    assert query.get("iss") == ISSUER, query
    assert query.get("state") == state, query
    assert "code" not in query
    return query


def error_page(response) -> None:
    """Assert an error shown to the person, never sent to a redirect_uri."""
    assert response.status_code == 400, (response.status_code, response.headers.get("Location"))
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
