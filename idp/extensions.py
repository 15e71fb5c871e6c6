"""Extensions, created unbound and bound in create_app()."""

from typing import Any

from click import Group
from flask import Flask
from flask import Request
from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask.sessions import SessionMixin
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from idp.models import Base


class LazyMigrate:
    """Flask-Migrate, imported only when a migration runs (the `db` commands, tests).

    It brings Alembic and Mako, about 12 MB per process that a web worker never uses.
    `init_app` leaves a placeholder in `app.extensions["migrate"]` and a `db` command group;
    the first use of either binds the real `flask_migrate.Migrate` to the app.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        app.extensions["migrate"] = _PendingMigrate(self, app, db, directory)
        app.cli.add_command(_LazyDbGroup(app, name="db", help="Perform database migrations."))

    def bind(self, app: Flask, db: SQLAlchemy, directory: str) -> Any:
        from flask_migrate import Migrate

        Migrate(**self.kwargs).init_app(app, db, directory=directory)
        return app.extensions["migrate"]


class _PendingMigrate:
    def __init__(self, owner: LazyMigrate, app: Flask, db: SQLAlchemy, directory: str) -> None:
        self._args = (owner, app, db, directory)
        self._bound: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._bound is None:
            owner, app, db, directory = self._args
            self._bound = owner.bind(app, db, directory)
        return getattr(self._bound, name)


class _LazyDbGroup(Group):
    """`flask db …` / `idp db …`: Flask-Migrate's own group, loaded when invoked."""

    def __init__(self, app: Flask, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app

    def make_context(self, info_name: str | None, args: list[str], parent=None, **extra: Any):
        pending = self._app.extensions.get("migrate")
        if isinstance(pending, _PendingMigrate):
            pending.directory  # noqa: B018 - binds the real Migrate to the app
        from flask_migrate.cli import db as group

        return group.make_context(info_name, args, parent=parent, **extra)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, left closed on the endpoints portals call directly.

    A portal's HTTP client may echo cookies on /token; verifying their signature there cost
    about 5 % of a grant for nothing: these endpoints never read nor write the session (a
    write would raise, as with a null session, instead of replacing a browser's cookie).
    """

    sessionless_paths = frozenset({"/token", "/introspect", "/revoke"})

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path in self.sessionless_paths:
            return self.make_null_session(app)
        return super().open_session(app, request)


db = SQLAlchemy(model_class=Base)
migrate = LazyMigrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
babel = Babel()


# The endpoints only portals' back-ends call (SessionInterface.sessionless_paths are theirs).
MACHINE_ENDPOINTS = frozenset({"oidc.token", "oidc.introspect", "oidc.revoke"})
# Endpoints with no rate limit: what they check is a random secret of 256 bits (client
# secret, code, token), not something a person chose; or they serve public documents.
UNLIMITED_ENDPOINTS = MACHINE_ENDPOINTS | frozenset(
    {
        "oidc.userinfo",
        "oidc.discovery",
        "oidc.jwks",
        "static",
        "dsfr_static",
        "zxcvbn_static",
    }
)


class IdpLimiter(Limiter):
    """Flask-Limiter, skipped at once on the endpoints that carry no limit (its lookup of
    the limits that apply costs more than a tenth of a token grant)."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True):
        if in_middleware and request.endpoint in UNLIMITED_ENDPOINTS:
            return None
        return super()._check_request_limit(callable_name, in_middleware)


limiter = IdpLimiter(key_func=get_remote_address, default_limits=[])
