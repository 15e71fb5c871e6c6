"""Settings: defined once here, overridable by instance/config.py and IDP_* variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from idp.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


class Defaults:
    # Public URL of the provider; the `iss` of every token.
    ISSUER = "http://127.0.0.1:5000"
    # SQLAlchemy URL; empty means SQLite in instance/idp.sqlite3.
    DATABASE_URL = ""
    # Flask secret key; generated into instance/secret_key when empty.
    SECRET_KEY = ""
    # Folder holding the signing keys (one JSON file per key, mode 0600).
    KEYS_DIR = str(ROOT / "keys")
    # Signing algorithm of new keys: RS256 or ES256.
    KEY_ALG = "RS256"
    # Days a retired key stays in the JWKS so tokens it signed still verify.
    KEY_RETENTION_DAYS = 30
    # Outgoing mail server and sender.
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 1025
    MAIL_FROM = "idp <ne-pas-repondre@idp.localhost>"
    # SMTP login and STARTTLS (empty username: no authentication).
    SMTP_USERNAME = ""
    SMTP_PASSWORD = ""
    SMTP_STARTTLS = False
    # Seconds before an SMTP connection attempt gives up.
    SMTP_TIMEOUT = 10
    # SMS provider: "dev" writes each SMS as a mail to sms+<number>@sms.localhost
    # on the SMTP server (the demo catcher shows it); refused in production.
    SMS_BACKEND = "dev"
    # Send notifications from a background thread after the commit (tests turn it off).
    NOTIFY_ASYNC = True
    # Attempts before an outbox message is given up (with exponential backoff).
    OUTBOX_MAX_ATTEMPTS = 8
    # SQLite: read the database through a memory map of up to this many MiB (0: no map).
    SQLITE_MMAP_MB = 1024
    # A pooled database connection idle for longer is checked (a round trip) before use.
    DB_PING_AFTER_IDLE_SECONDS = 5
    # Redis URL for rate limits and shared state; empty means database/memory.
    REDIS_URL = ""
    # "production" refuses to start without an https issuer, keys and a secret.
    ENV = "development"
    # Lifetimes, in seconds.
    CODE_LIFETIME = 60
    ACCESS_TOKEN_LIFETIME = 600
    ID_TOKEN_LIFETIME = 600
    REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600
    # Seconds a worker keeps a portal's registration for /token, /introspect and /revoke
    # (0: read it on every request). A change made in the same process applies at once.
    CLIENT_CACHE_SECONDS = 5
    SESSION_LIFETIME = 12 * 3600
    # Access tokens: "opaque" (random, 43 characters) or "jwt" (RFC 9068); both stored hashed.
    ACCESS_TOKEN_FORMAT = "opaque"  # noqa: S105 (a format name, not a secret)
    # argon2id cost (OWASP minimum: m=19 MiB, t=2, p=1).
    ARGON2_MEMORY_KIB = 19 * 1024
    ARGON2_TIME_COST = 2
    ARGON2_PARALLELISM = 1
    # Failed login attempts allowed per IP address (Flask-Limiter syntax); logins that
    # succeed are not counted (many people may share one address behind a NAT).
    LOGIN_RATE_LIMIT = "30 per minute"
    # Login attempts allowed per typed identifier from one client network (IPv4 /24, IPv6 /48):
    # slows guessing, and another network (the owner's) keeps its own budget.
    LOGIN_ACCOUNT_RATE_LIMIT = "10 per 15 minutes"
    # Per client address, a ceiling against mass abuse that a place where many people share
    # one address (a France Services counter, a hospital's or a mobile operator's NAT) does
    # not reach; tighter limits apply per sign-up and per typed identifier.
    # Sign-ups: activation codes and links sent, and codes typed, per route.
    SIGNUP_ADDRESS_RATE_LIMIT = "100 per hour"
    # "Mot de passe oublié ?" and "Identifiant oublié ?" requests.
    RECOVERY_ADDRESS_RATE_LIMIT = "30 per 15 minutes"
    # Login failures per typed identifier after which each new try waits 1, 2, 4 … seconds.
    LOGIN_DELAY_AFTER = 5
    # Longest wait, in seconds, between two tries of one identifier once delays apply.
    LOGIN_DELAY_MAX = 300
    # Failures of one identifier within LOGIN_LOCK_WINDOW seconds that lock it.
    LOGIN_LOCK_THRESHOLD = 10
    LOGIN_LOCK_WINDOW = 900
    # Seconds a locked identifier stays locked (a password reset unlocks it sooner).
    LOGIN_LOCK_DURATION = 1800
    # Days a device cookie (a browser that logged in to an account) is trusted: from it, the
    # lock and delays taken by other clients do not apply (OWASP device cookies).
    LOGIN_DEVICE_COOKIE_DAYS = 180
    # Failures from one device cookie, without a success between them, that distrust it.
    LOGIN_DEVICE_MAX_FAILURES = 5
    # Reverse proxies in front of idp whose X-Forwarded-For is trusted (0: use the peer address).
    TRUSTED_PROXIES = 0
    # Days between "Supprimer mon compte" and the erasure of the personal data.
    ACCOUNT_DELETION_GRACE_DAYS = 30
    # Hours an email change confirmation link stays valid.
    EMAIL_CHANGE_LINK_HOURS = 24
    # Back-channel logout: seconds before a POST to a portal gives up, and attempts.
    BACKCHANNEL_TIMEOUT = 5
    BACKCHANNEL_MAX_ATTEMPTS = 5
    # Sign-up journey for portals that name none (prompt=create, "Créer un compte").
    DEFAULT_JOURNEY = "citoyen"
    # Time zone in which dates and times are shown to people.
    DISPLAY_TIMEZONE = "Europe/Paris"
    # Language when the browser asks for none we have.
    DEFAULT_LOCALE = "fr"
    # FranceConnect (upstream OpenID provider) issuer URL; empty hides the button.
    FRANCECONNECT_ISSUER = ""
    # Client id and secret registered with FranceConnect (sent by client_secret_post).
    FRANCECONNECT_CLIENT_ID = ""
    FRANCECONNECT_CLIENT_SECRET = ""
    # Upstream preset: franceconnect (v2), franceconnect-plus (JWE, eidas2+) or generic.
    FRANCECONNECT_PRESET = "franceconnect"
    # Scopes asked upstream, space-separated; empty means the preset's.
    FRANCECONNECT_SCOPES = ""
    # acr_values sent upstream, also the minimum accepted back; empty means the preset's.
    FRANCECONNECT_ACR = ""
    # Portals the default upstream is offered on: journeys and client ids, space-separated;
    # both empty: every portal no other upstream names.
    FRANCECONNECT_JOURNEYS = ""
    FRANCECONNECT_CLIENTS = ""
    # More upstream providers (list of dicts, or JSON in IDP_UPSTREAMS): name, preset, issuer,
    # client_id, client_secret, scopes, acr, journeys, clients, token_auth (idp/federation/).
    UPSTREAMS: list = []  # noqa: RUF012 (a default, copied by load_config)
    # Seconds before a call to an upstream provider (discovery, JWKS, token, userinfo) gives up.
    FEDERATION_TIMEOUT = 5
    # Seconds an upstream discovery document and JWKS stay cached.
    FEDERATION_CACHE_SECONDS = 3600
    # Seconds a person has to come back from the upstream provider and finish linking.
    FEDERATION_FLOW_LIFETIME = 900
    # JWE key algorithm of idp's encryption keys (FranceConnect+): RSA-OAEP-256 or RSA-OAEP.
    FEDERATION_ENC_ALG = "RSA-OAEP-256"


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, instance/config.py, IDP_* environment variables and overrides."""
    values = {k: v for k, v in vars(Defaults).items() if k.isupper()}
    instance_file = instance_path / "config.py"
    if instance_file.exists():
        namespace: dict[str, Any] = {}
        exec(compile(instance_file.read_text(), str(instance_file), "exec"), namespace)  # noqa: S102
        values.update({k: v for k, v in namespace.items() if k.isupper()})
    for key, default in list(values.items()):
        raw = os.environ.get(f"IDP_{key}")
        if raw is not None and raw != "":
            values[key] = _coerce(default, raw)
    values.update({k.removeprefix("IDP_"): v for k, v in (overrides or {}).items()})
    values["ISSUER"] = values["ISSUER"].rstrip("/")
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'idp.sqlite3'}"
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _instance_secret(instance_path)
    return values


def _instance_secret(instance_path: Path) -> str:
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def validate_config(config: dict[str, Any]) -> None:
    """Fail at start-up on a setting that would make the provider unsafe."""
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("IDP_SECRET_KEY doit contenir au moins 32 caractères.")
    if config["KEY_ALG"] not in {"RS256", "ES256"}:
        raise ConfigError("IDP_KEY_ALG doit valoir RS256 ou ES256.")
    if config["ACCESS_TOKEN_FORMAT"] not in {"opaque", "jwt"}:
        raise ConfigError("IDP_ACCESS_TOKEN_FORMAT doit valoir opaque ou jwt.")
    if config["CODE_LIFETIME"] > 60:
        raise ConfigError("IDP_CODE_LIFETIME ne peut pas dépasser 60 secondes.")
    if config["ENV"] == "production" and config["SMS_BACKEND"] == "dev":
        raise ConfigError("En production, IDP_SMS_BACKEND ne peut pas valoir dev.")
    if config["ENV"] == "production" and not config["ISSUER"].startswith("https://"):
        raise ConfigError("En production, IDP_ISSUER doit être une URL https.")
    from idp.federation.presets import validate_upstream

    validate_upstream(config)
