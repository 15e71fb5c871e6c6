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
