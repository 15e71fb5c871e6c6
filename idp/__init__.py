"""idp: an OpenID Connect identity provider for French health and public-service portals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask import g
from flask import request
from flask import send_from_directory
from flask import session
from flask_babel import get_locale
from werkzeug.routing import IntegerConverter

from idp.config import ROOT
from idp.config import load_config
from idp.config import validate_config

DSFR_DIST = ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"
ZXCVBN_DIST = ROOT / "node_modules" / "zxcvbn" / "dist"
LOCALES = ("fr", "en")


def select_locale() -> str:
    if session.get("locale") in LOCALES:
        return session["locale"]
    return request.accept_languages.best_match(LOCALES) or "fr"


# A logo the login and sign-up pages may show: https, a plain host name, a path without the
# characters that would end a CSP source expression (`;`, `,`, spaces, quotes).
LOGO_URI = re.compile(
    r"^https://(?P<source>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?"
    r"(?:/[A-Za-z0-9._~%/+-]*)?)(?:\?[^#\s\"'<>]*)?$"
)


def portal_logo(portal: Any) -> str | None:
    """The logo URI of a portal (a Client or its client_id) when it may be shown, None
    otherwise; its exact URL is added to this response's CSP img-src (nothing else is)."""
    if isinstance(portal, str):
        from idp.oidc.clients import get_client

        portal = get_client(portal)
    uri = getattr(portal, "logo_uri", None) or ""
    match = LOGO_URI.match(uri)
    if match is None:
        return None
    # A source expression with a path matches that path exactly (CSP Level 3, path-part
    # matching); the query string is not part of a source expression.
    source = "https://" + match["source"]
    sources = g.setdefault("csp_img_sources", [])
    if source not in sources:
        sources.append(source)
    return uri


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
CSP_IMG_SRC = "'self' data:"
CSP = (
    "default-src 'self'; img-src {img_src}; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:"
)
DEFAULT_CSP = CSP.format(img_src=CSP_IMG_SRC)


class IdConverter(IntegerConverter):
    """<int:…> in a route is a row id: an Integer column holds at most 2**31 - 1. A larger
    number is a 404, not an overflow in the database driver (a 500 on SQLite)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The application factory: the only place where the app is wired."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = load_config(Path(app.instance_path), config)
    validate_config(settings)
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={},
        SESSION_COOKIE_NAME="idp_flask",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["ISSUER"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=settings["DEFAULT_LOCALE"],
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        RATELIMIT_STORAGE_URI=settings["REDIS_URL"] or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_ENABLED=settings.get("RATELIMIT_ENABLED", True),
    )
    if settings["DATABASE_URL"].startswith("sqlite"):
        from idp.sqlite import WriterLockedConnection

        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {
                "timeout": 15,
                "factory": WriterLockedConnection,
                "mmap_mb": settings["SQLITE_MMAP_MB"],
            }
        }
    if settings["TRUSTED_PROXIES"]:
        # The client address (rate limits per network, audit) from X-Forwarded-For, as set
        # by this many proxies; without them request.remote_addr is the proxy's address.
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = int(settings["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]

    from idp import admin
    from idp import api
    from idp import errors_views
    from idp import federation
    from idp import notify
    from idp.cli import register_cli
    from idp.extensions import SessionInterface
    from idp.extensions import babel
    from idp.extensions import csrf
    from idp.extensions import db
    from idp.extensions import limiter
    from idp.extensions import migrate
    from idp.oidc.keys import KeyStore
    from idp.oidc.server import build_server
    from idp.pool import ping_when_idle

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine, settings["DB_PING_AFTER_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    app.session_interface = SessionInterface()
    app.extensions["idp_keys"] = KeyStore(settings["KEYS_DIR"], settings["KEY_RETENTION_DAYS"])
    app.extensions["idp_oauth"] = build_server(app)

    from idp.account import bp as account_bp
    from idp.auth import bp as auth_bp
    from idp.enrolment import bp as enrolment_bp
    from idp.mfa import bp as mfa_bp
    from idp.oidc import bp as oidc_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(enrolment_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(mfa_bp)
    errors_views.init_app(app)
    notify.init_app(app)
    federation.init_app(app)
    admin.init_app(app)
    api.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["portal_logo"] = portal_logo
    zone = ZoneInfo(settings["DISPLAY_TIMEZONE"])
    app.jinja_env.filters["local_time"] = lambda moment: moment.astimezone(zone).strftime(
        "%d/%m/%Y %H:%M"
    )
    register_cli(app)

    @app.get("/static/dsfr/<path:filename>")
    def dsfr_static(filename: str):
        """DSFR assets from the npm package, served by idp itself (no CDN)."""
        return send_from_directory(DSFR_DIST, filename, max_age=86400)

    @app.get("/static/vendor/zxcvbn.js")
    def zxcvbn_static():
        """The password strength estimator (same algorithm as the server's)."""
        return send_from_directory(ZXCVBN_DIST, "zxcvbn.js", max_age=86400)

    @app.before_request
    def remember_ui_locales() -> None:
        # OIDC Core 3.1.2.1: ui_locales on /authorize applies to the pages that follow.
        if b"ui_locales" in request.query_string:
            wanted = request.args.get("ui_locales")
        elif request.method == "POST" and request.endpoint == "oidc.authorize":
            wanted = request.form.get("ui_locales")
        else:
            return
        if wanted:
            for tag in wanted.split():
                lang = tag.split("-")[0].lower()
                if lang in LOCALES:
                    session["locale"] = lang
                    break

    @app.after_request
    def security_headers(response):
        headers = response.headers
        for name, value in SECURITY_HEADERS:
            headers.setdefault(name, value)
        # A portal's logo (portal_logo) is allowed by its exact URL, on that page only.
        logos = g.get("csp_img_sources")
        headers.setdefault(
            "Content-Security-Policy",
            CSP.format(img_src=" ".join([CSP_IMG_SRC, *logos])) if logos else DEFAULT_CSP,
        )
        if response.mimetype == "text/html":
            headers.setdefault("Cache-Control", "no-store")
        return response

    return app
