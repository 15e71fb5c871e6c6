"""Work that follows a commit in a daemon thread, so the browser never waits for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask
from flask import current_app

from idp.extensions import db

log = logging.getLogger(__name__)


def in_background(name: str, work: Callable[[], object]) -> threading.Thread:
    """Run `work` in its own app context; its failures are logged, never raised."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:  # a failed delivery must never surface to the browser
                log.exception("%s failed", name)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
