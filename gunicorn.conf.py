"""gunicorn settings, read from the working directory (`gunicorn wsgi:app`).

The application is imported once in the master and forked into the workers: the code,
templates and keys are shared copy-on-write, which keeps the whole server's resident memory
(PSS) low. Database connections must not cross the fork: each worker drops the pool it
inherited and opens its own.
"""

import ctypes
import gc

preload_app = True


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    from idp.extensions import db
    from wsgi import app

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def when_ready(server):  # noqa: ARG001 - gunicorn's hook signature
    """Before the first fork: compile every template and load every catalogue once, in
    the master, so the workers share them instead of each building its own copy; then
    move what exists to the permanent generation (gc.freeze) so that the workers' garbage
    collections do not write to, and so copy, the shared pages."""
    from flask_babel import force_locale
    from flask_babel import gettext
    from sqlalchemy.orm import configure_mappers

    from idp import LOCALES
    from wsgi import app

    configure_mappers()  # the ORM's mappers, compiled once here rather than per worker
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    with app.test_request_context():
        for locale in LOCALES:
            with force_locale(locale):
                gettext("Se connecter")
    _run_hot_paths(app)
    gc.freeze()
    # What the loading freed goes back to the system instead of staying in the heap the
    # workers inherit.
    ctypes.CDLL("libc.so.6").malloc_trim(0)


WARM_UP_ROUNDS = 30


def _run_hot_paths(app):
    """Serve a few requests in the master that read and write nothing: what every request
    builds on first use (the URL map's matcher, the signers, the locale data, Python's
    specialised bytecode of the code they run…) is then built once and shared, instead of
    being built, and its pages copied, in each worker. PSS after the bench load: about
    9 MB less on PostgreSQL and on SQLite (bench/README.md).

    The rate limiter is off meanwhile (its storage, Redis included, is never opened in the
    master), and the database pool is closed afterwards: nothing crosses the fork."""
    from idp.extensions import db
    from idp.extensions import limiter

    client = app.test_client()
    enabled, limiter.enabled = limiter.enabled, False
    try:
        for _ in range(WARM_UP_ROUNDS):
            for path in ("/.well-known/openid-configuration", "/jwks.json", "/connexion", "/"):
                client.get(path)
            # No client credentials: refused before any lookup (invalid_client).
            client.post("/token", data={"grant_type": "client_credentials"})
    finally:
        limiter.enabled = enabled
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
