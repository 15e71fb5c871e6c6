"""Device cookies: a browser that logged in to an account keeps its way in (OWASP).

OWASP, "Slow down online guessing attacks with device cookies": after a successful login
the browser receives a signed cookie naming the account and a random nonce. A login
attempt for that very account from a browser that presents it skips the lock and delays
that guesses from unknown clients have earned; a counter of its own, per nonce, distrusts
the cookie after LOGIN_DEVICE_MAX_FAILURES failures (see idp.auth.lockout).

A browser without such an entry for the account the typed identifier names goes the
untrusted way, exactly as for an identifier that names no account: the cookie only proves
a past successful login to this account, which tells its holder nothing new.

One cookie holds up to MAX_ENTRIES accounts (a shared family computer), newest first.
It is signed (itsdangerous, the app secret, a salt of its own), not encrypted: it holds
the account's internal `sub` and the nonce, nothing personal; HttpOnly, SameSite=Lax,
Secure when the issuer is https.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Response
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from idp.models import Account
from idp.models import utcnow

COOKIE = "idp_known_browser"  # not "idp_device": the remembered second factor (idp.mfa)
SALT = "idp.auth.device-cookie"
MAX_ENTRIES = 5
MAX_COOKIE_LENGTH = 2048


@dataclass(frozen=True)
class Device:
    """One entry of a device cookie: an account this browser logged in to."""

    sub: str
    nonce: str
    issued_at: int  # Unix time


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _lifetime_seconds() -> int:
    return int(current_app.config["LOGIN_DEVICE_COOKIE_DAYS"]) * 86400


def _valid(item: object, now: int) -> bool:
    if not isinstance(item, list) or len(item) != 3:
        return False
    sub, nonce, issued_at = item
    return (
        isinstance(sub, str)
        and isinstance(nonce, str)
        and isinstance(issued_at, int)
        and 0 <= now - issued_at < _lifetime_seconds()
    )


def read(raw: str | None) -> list[Device]:
    """The unexpired entries of a device cookie whose signature holds (else none)."""
    if not raw or len(raw) > MAX_COOKIE_LENGTH:
        return []
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    now = int(utcnow().timestamp())
    return [Device(*item) for item in data[:MAX_ENTRIES] if _valid(item, now)]


def entry_for(account: Account | None, devices: list[Device]) -> Device | None:
    """The entry naming `account`, if this browser holds one."""
    if account is None:
        return None
    return next((d for d in devices if secrets.compare_digest(d.sub, account.sub)), None)


def remember(response: Response, account: Account, devices: list[Device]) -> None:
    """Set the cookie with a fresh entry (new nonce) for `account`, first, on `response`."""
    fresh = Device(account.sub, secrets.token_urlsafe(24), int(utcnow().timestamp()))
    kept = [d for d in devices if d.sub != account.sub][: MAX_ENTRIES - 1]
    value = _serializer().dumps([[d.sub, d.nonce, d.issued_at] for d in (fresh, *kept)])
    response.set_cookie(
        COOKIE,
        value,
        max_age=_lifetime_seconds(),
        httponly=True,
        secure=current_app.config["ISSUER"].startswith("https://"),
        samesite="Lax",
        path="/",
    )
