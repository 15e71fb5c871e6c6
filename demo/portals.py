"""Demo relying-party portals for the idp OpenID Connect provider.

Every portal is an independent OpenID Connect client (authorization code
flow with PKCE and nonce) hosted by one Flask application. Logged-in state
is kept server side, keyed by a random id stored in the Flask session under
a per-portal key, so logging in to one portal never logs you in to another:
single sign-on must come from the provider.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import FlaskOAuth2App
from authlib.integrations.flask_client import OAuth
from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .mailcatcher import MailCatcher
from .mailcatcher import catcher_blueprint

#: The five demo portals, as ``(slug, name)`` pairs.
DEMO_PORTALS: tuple[tuple[str, str], ...] = (
    ("ameli", "ameli"),
    ("mon-espace-sante", "Mon espace santé"),
    ("ars-internes", "ARS internes"),
    ("espace-pro", "Espace pro"),
    ("portail-citoyen", "Portail citoyen"),
)

DSFR_DIR = Path(__file__).resolve().parent.parent / "node_modules/@gouvfr/dsfr/dist"
SCOPE = "openid profile email phone address"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Authorization request parameters a portal forwards from its login URL.
LOGIN_PARAMS = ("prompt", "acr_values", "login_hint", "max_age")
#: Clock skew tolerated when checking token times, in seconds.
LEEWAY = 120
HTTP_TIMEOUT = 10

_TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at", "expires_at"})

#: French explanations of the error codes an authorization response may carry.
_OAUTH_ERRORS = {
    "access_denied": "La connexion a été annulée ou l'autorisation refusée.",
    "login_required": "Une authentification est nécessaire.",
    "consent_required": "Votre consentement est nécessaire.",
    "interaction_required": "Une action de votre part est nécessaire.",
    "account_selection_required": "Vous devez choisir un compte.",
    "invalid_request": "La demande de connexion est invalide.",
    "invalid_scope": "Les informations demandées ne sont pas autorisées.",
    "unauthorized_client": "Ce portail n'a pas droit à ce mode de connexion.",
    "unsupported_response_type": "Ce mode de connexion n'est pas pris en charge.",
    "server_error": "Le fournisseur d'identité a rencontré une erreur.",
    "temporarily_unavailable": "Le fournisseur d'identité est indisponible.",
}


class PortalConfig(t.TypedDict):
    slug: str
    name: str
    client_id: str
    client_secret: str


class DemoError(Exception):
    """A failure to show to the user; the message is in French."""


class PortalNotFoundError(Exception):
    """Raised for an unknown portal slug."""


@dataclass
class PortalSession:
    """What a portal remembers about a logged-in user."""

    slug: str
    id_token: str
    claims: dict[str, t.Any]
    userinfo: dict[str, t.Any]
    token: dict[str, t.Any]
    refreshed_at: float | None = None


class SessionStore:
    """Thread-safe in-memory store of portal sessions, keyed by random ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, PortalSession] = {}

    def add(self, entry: PortalSession) -> str:
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._items[key] = entry
        return key

    def get(self, key: str | None) -> PortalSession | None:
        with self._lock:
            return self._items.get(key) if key else None

    def remove(self, key: str | None) -> PortalSession | None:
        with self._lock:
            return self._items.pop(key, None) if key else None

    def remove_matching(self, slug: str, sid: str | None, sub: str | None) -> int:
        """Drop the sessions of a portal matching ``sid``, or ``sub`` without one."""
        name, value = ("sid", sid) if sid else ("sub", sub)
        with self._lock:
            keys = [
                key
                for key, entry in self._items.items()
                if entry.slug == slug and entry.claims.get(name) == value
            ]
            for key in keys:
                del self._items[key]
        return len(keys)


@dataclass
class _State:
    issuer: str
    base_url: str
    portals: dict[str, PortalConfig]
    clients: dict[str, FlaskOAuth2App]
    store: SessionStore
    backchannel: list[str | None]
    seen_jti: set[str] = field(default_factory=set)


bp = Blueprint("portals", __name__)


def create_portals_app(config: dict[str, t.Any]) -> Flask:
    """Create the demo portals application.

    ``config`` holds ``issuer``, ``base_url``, ``secret_key``, ``portals`` (a
    list of :class:`PortalConfig`) and optionally ``mailcatcher``, a
    :class:`~demo.mailcatcher.MailCatcher` whose inbox is mounted at ``/mails/``.
    """
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=config["secret_key"],
        # 127.0.0.1 shares cookies across ports: never reuse the provider's name.
        SESSION_COOKIE_NAME="demo_portals_session",
        SESSION_COOKIE_SAMESITE="Lax",
    )
    issuer = config["issuer"].rstrip("/")
    oauth = OAuth(app)
    portals: dict[str, PortalConfig] = {p["slug"]: p for p in config["portals"]}
    clients = {
        slug: oauth.register(
            name=slug,
            client_id=portal["client_id"],
            client_secret=portal["client_secret"],
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": SCOPE,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "default_timeout": HTTP_TIMEOUT,
            },
        )
        for slug, portal in portals.items()
    }
    backchannel: list[str | None] = []
    app.extensions["demo_backchannel"] = backchannel
    app.extensions["demo_portals"] = _State(
        issuer=config["issuer"],
        base_url=config["base_url"].rstrip("/"),
        portals=portals,
        clients=clients,
        store=SessionStore(),
        backchannel=backchannel,
    )

    stylesheets: list[str] = []
    if DSFR_DIR.is_dir():
        app.register_blueprint(
            Blueprint(
                "dsfr",
                __name__,
                static_folder=DSFR_DIR,
                static_url_path="/static/dsfr",
            )
        )
        stylesheets = [
            f"/static/dsfr/{name}"
            for name in ("dsfr.min.css", "utility/icons/icons.min.css")
            if (DSFR_DIR / name).is_file()
        ]

    catcher = config.get("mailcatcher")
    has_mailcatcher = isinstance(catcher, MailCatcher)
    if has_mailcatcher:
        app.register_blueprint(catcher_blueprint(catcher))

    @app.context_processor
    def layout_context() -> dict[str, t.Any]:
        return {
            "demo_stylesheets": stylesheets,
            "demo_mailcatcher": has_mailcatcher,
        }

    app.jinja_env.globals["csrf_token"] = _csrf_token
    app.jinja_env.filters["demo_claim"] = _format_claim
    app.jinja_env.filters["demo_time"] = _format_time
    app.register_blueprint(bp)
    return app


def _state() -> _State:
    return t.cast(_State, current_app.extensions["demo_portals"])


def _portal(slug: str) -> tuple[PortalConfig, FlaskOAuth2App]:
    state = _state()
    if slug not in state.portals:
        raise PortalNotFoundError()
    return state.portals[slug], state.clients[slug]


@bp.errorhandler(PortalNotFoundError)
def _not_found(error: PortalNotFoundError) -> ResponseReturnValue:
    return _message(None, "Portail introuvable", "Ce portail n'existe pas.", 404)


def _url(slug: str, path: str) -> str:
    return f"{_state().base_url}/{slug}/{path}"


def _sid_key(slug: str) -> str:
    return f"demo_sid:{slug}"


def _current(slug: str) -> PortalSession | None:
    return _state().store.get(session.get(_sid_key(slug)))


def _csrf_token() -> str:
    token = session.get("demo_csrf")
    if not token:
        token = session["demo_csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _same(received: str | None, expected: str | None) -> bool:
    if not received or not expected:
        return False
    return secrets.compare_digest(received.encode(), expected.encode())


@bp.before_request
def _check_csrf() -> ResponseReturnValue | None:
    if request.method != "POST" or request.endpoint == "portals.backchannel_logout":
        return None
    if _same(request.form.get("csrf_token"), session.get("demo_csrf")):
        return None
    return _message(
        None,
        "Requête refusée",
        "Le formulaire a expiré ou n'est pas valide. Veuillez réessayer.",
        400,
    )


def _format_time(value: t.Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "—"
    return datetime.fromtimestamp(value).strftime("%d/%m/%Y à %H:%M:%S")


def _format_claim(value: t.Any, name: str = "") -> str:
    if name in _TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value} ({_format_time(value)})"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _message(
    portal: PortalConfig | None,
    title: str,
    text: str,
    status: int = 200,
    *,
    level: str = "error",
    code: str | None = None,
) -> ResponseReturnValue:
    page = render_template(
        "demo/message.html",
        portal=portal,
        title=title,
        text=text,
        level=level,
        code=code,
    )
    return page, status


def _describe(error: Exception) -> tuple[str, int]:
    """French explanation and HTTP status for a failed exchange with the provider."""
    if isinstance(error, DemoError):
        return str(error), 400
    if isinstance(error, MismatchingStateError):
        return (
            "Cette réponse ne correspond à aucune connexion en cours "
            "(paramètre state invalide). Veuillez recommencer.",
            400,
        )
    if isinstance(error, AuthlibBaseError):
        return f"Le fournisseur d'identité a refusé la demande ({error.error}).", 400
    if isinstance(error, JoseError):
        return f"Le jeton d'identité reçu est invalide ({error.error}).", 400
    return "Le fournisseur d'identité est injoignable.", 502


_PROVIDER_ERRORS = (DemoError, AuthlibBaseError, JoseError, requests.RequestException)


@bp.get("/")
def index() -> ResponseReturnValue:
    state = _state()
    portals = [
        {**portal, "logged_in": _current(slug) is not None}
        for slug, portal in state.portals.items()
    ]
    return render_template("demo/index.html", portals=portals, issuer=state.issuer)


@bp.get("/<slug>/")
def home(slug: str) -> ResponseReturnValue:
    portal, _ = _portal(slug)
    entry = _current(slug)
    if entry is None and session.pop(_sid_key(slug), None):
        flash(
            "Votre session sur ce portail a été fermée par le fournisseur d'identité.",
            "info",
        )
    return render_template("demo/portal.html", portal=portal, entry=entry)


@bp.get("/<slug>/login")
def login(slug: str) -> ResponseReturnValue:
    portal, client = _portal(slug)
    params = {}
    for name in LOGIN_PARAMS:
        value = request.args.get(name, "").strip()
        if value:
            params[name] = value
    max_age = params.get("max_age")
    if max_age is not None and not max_age.isdigit():
        del params["max_age"]
        max_age = None
    session[f"demo_max_age:{slug}"] = int(max_age) if max_age is not None else None
    try:
        return client.authorize_redirect(
            _url(slug, "callback"), nonce=secrets.token_urlsafe(24), **params
        )
    except requests.RequestException as error:
        text, status = _describe(error)
        return _message(portal, "Connexion impossible", text, status)


@bp.get("/<slug>/callback")
def callback(slug: str) -> ResponseReturnValue:
    portal, client = _portal(slug)
    max_age = session.pop(f"demo_max_age:{slug}", None)
    error = request.args.get("error")
    if error:
        text = _OAUTH_ERRORS.get(error, "Le fournisseur d'identité a renvoyé une erreur.")
        description = request.args.get("error_description")
        if description:
            text = f"{text} ({description})"
        return _message(portal, "Connexion interrompue", text, level="warning", code=error)
    try:
        # Authlib checks state, sends the PKCE verifier, then verifies the ID
        # token's signature, issuer, audience, times, at_hash and the nonce
        # it saved with the state in authorize_redirect.
        token = client.authorize_access_token(leeway=LEEWAY)
        claims = token.get("userinfo")
        if "id_token" not in token or claims is None:
            raise DemoError("Le fournisseur d'identité n'a pas renvoyé de jeton d'identité.")
        _check_auth_time(claims, max_age)
        userinfo = dict(client.userinfo(token=token))
        if userinfo.get("sub") != claims["sub"]:
            raise DemoError("La réponse userinfo ne concerne pas l'utilisateur connecté.")
    except _PROVIDER_ERRORS as exc:
        text, status = _describe(exc)
        return _message(portal, "Connexion impossible", text, status)
    store = _state().store
    store.remove(session.pop(_sid_key(slug), None))
    entry = PortalSession(
        slug=slug,
        id_token=token["id_token"],
        claims=dict(claims),
        userinfo=userinfo,
        token={k: v for k, v in token.items() if k != "userinfo"},
    )
    session[_sid_key(slug)] = store.add(entry)
    flash(f"Vous êtes connecté à {portal['name']}.", "success")
    return redirect(url_for(".home", slug=slug))


def _check_auth_time(claims: t.Mapping[str, t.Any], max_age: int | None) -> None:
    if max_age is None:
        return
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, (int, float)):
        raise DemoError("Le jeton d'identité n'indique pas l'heure d'authentification.")
    if time.time() - auth_time > max_age + LEEWAY:
        raise DemoError("L'authentification est plus ancienne que la durée demandée (max_age).")


@bp.post("/<slug>/refresh")
def refresh(slug: str) -> ResponseReturnValue:
    _, client = _portal(slug)
    entry = _current(slug)
    home_url = url_for(".home", slug=slug)
    if entry is None:
        flash("Vous n'êtes pas connecté à ce portail.", "warning")
        return redirect(home_url)
    refresh_token = entry.token.get("refresh_token")
    if not refresh_token:
        flash("Aucun jeton de rafraîchissement n'a été délivré à ce portail.", "warning")
        return redirect(home_url)
    try:
        token = dict(
            client.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
        )
        claims = None
        if "id_token" in token:
            claims = client.parse_id_token(token, nonce=None, leeway=LEEWAY)
            if claims["sub"] != entry.claims["sub"]:
                raise DemoError("Le nouveau jeton d'identité concerne un autre utilisateur.")
    except _PROVIDER_ERRORS as exc:
        text, _ = _describe(exc)
        flash(f"Le rafraîchissement des jetons a échoué : {text}", "error")
        return redirect(home_url)
    token.setdefault("refresh_token", refresh_token)
    entry.token = token
    if claims is not None:
        entry.id_token = token["id_token"]
        entry.claims = dict(claims)
    entry.refreshed_at = time.time()
    flash(
        "Jetons rafraîchis : le nouveau jeton d'accès expire le "
        f"{_format_time(token.get('expires_at'))}.",
        "success",
    )
    return redirect(home_url)


@bp.post("/<slug>/logout")
def logout(slug: str) -> ResponseReturnValue:
    portal, client = _portal(slug)
    entry = _state().store.remove(session.pop(_sid_key(slug), None))
    state = secrets.token_urlsafe(24)
    session[f"demo_logout_state:{slug}"] = state
    try:
        result = client.create_logout_url(
            post_logout_redirect_uri=_url(slug, "logged-out"),
            id_token_hint=entry.id_token if entry else None,
            state=state,
            client_id=portal["client_id"],
        )
    except (RuntimeError, requests.RequestException):
        return _message(
            portal,
            "Déconnexion partielle",
            f"Vous êtes déconnecté de {portal['name']}, mais le fournisseur "
            "d'identité est injoignable : votre session auprès de lui est "
            "peut-être encore ouverte.",
            502,
            level="warning",
        )
    return redirect(result["url"])


@bp.get("/<slug>/logged-out")
def logged_out(slug: str) -> ResponseReturnValue:
    portal, _ = _portal(slug)
    expected = session.pop(f"demo_logout_state:{slug}", None)
    if _same(request.args.get("state"), expected):
        return _message(
            portal,
            "Déconnexion",
            f"Vous êtes déconnecté de {portal['name']}.",
            level="success",
        )
    return _message(
        portal,
        "Déconnexion non vérifiée",
        "La réponse de déconnexion ne correspond à aucune demande de ce portail "
        "(paramètre state absent ou invalide).",
        level="warning",
    )


@bp.post("/<slug>/backchannel-logout")
def backchannel_logout(slug: str) -> ResponseReturnValue:
    portal, client = _portal(slug)
    state = _state()
    try:
        claims = _verify_logout_token(client, portal, request.form.get("logout_token", ""))
    except (JoseError, ValueError, RuntimeError, requests.RequestException) as exc:
        current_app.logger.warning("%s: rejected logout token: %r", slug, exc)
        response = jsonify(error="invalid_request")
        response.status_code = 400
    else:
        sid = claims.get("sid")
        state.backchannel.append(sid)
        count = state.store.remove_matching(slug, sid, claims.get("sub"))
        current_app.logger.info("%s: back-channel logout dropped %d session(s)", slug, count)
        response = current_app.response_class(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _verify_logout_token(
    client: FlaskOAuth2App, portal: PortalConfig, value: str
) -> dict[str, t.Any]:
    """Validate a logout token as OpenID Connect Back-Channel Logout 1.0 asks."""
    if not value:
        raise ValueError("missing logout_token")
    state = _state()
    metadata = client.load_server_metadata()
    algorithms = [
        alg for alg in metadata.get("id_token_signing_alg_values_supported", []) if alg != "none"
    ]
    try:
        keys = KeySet.import_key_set(client.fetch_jwk_set())
        token = jwt.decode(value, keys, algorithms=algorithms or None)
    except InvalidKeyIdError:  # the provider may have rotated its keys
        keys = KeySet.import_key_set(client.fetch_jwk_set(force=True))
        token = jwt.decode(value, keys, algorithms=algorithms or None)
    claims = token.claims
    jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": state.issuer},
        aud={"essential": True, "value": portal["client_id"]},
        iat={"essential": True},
    ).validate(claims)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise ValueError("missing back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token must not contain a nonce")
    if not claims.get("sid") and not claims.get("sub"):
        raise ValueError("a logout token needs a sid or a sub")
    jti = claims.get("jti")
    if jti is not None:
        if jti in state.seen_jti:
            raise ValueError("logout token replayed")
        state.seen_jti.add(jti)
    return claims
