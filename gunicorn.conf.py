"""gunicorn settings, read from the working directory (`gunicorn wsgi:app`).

The application is imported once in the master and forked into the workers: the code,
templates and keys are shared copy-on-write, which keeps the whole server's resident memory
(PSS) low. Database connections must not cross the fork: each worker drops the pool it
inherited and opens its own.
"""

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
    import gc

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
    gc.freeze()
