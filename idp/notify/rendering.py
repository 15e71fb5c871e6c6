"""Named mail and SMS templates, rendered at queue time in the sender's language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask import has_request_context
from flask import render_template
from flask_babel import force_locale

# Template names become paths under templates/mail/ and templates/sms/: no dots, no slashes.
TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_template_name(template: str) -> str:
    if not TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"invalid notification template name: {template!r}")
    return template


@contextmanager
def rendering_locale() -> Iterator[None]:
    """The request's language in a request; the default language elsewhere (CLI, jobs)."""
    if has_request_context():
        yield
        return
    with force_locale(current_app.config["DEFAULT_LOCALE"]):
        yield


def template_context(context: dict[str, Any]) -> dict[str, Any]:
    """What every notification template receives besides the caller's context."""
    return {
        **context,
        "portal_name": context.get("portal_name"),
        "issuer": current_app.config["ISSUER"],
    }


def render(path: str, context: dict[str, Any]) -> str:
    with rendering_locale():
        return render_template(path, **template_context(context))
