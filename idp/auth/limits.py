"""Rate-limit keys shared by the login and recovery forms."""

from __future__ import annotations

from collections.abc import Callable

from flask import request


def typed_key(name: str) -> Callable[[], str]:
    """A rate-limit key on what was typed in `name`, without blanks or case.

    Keyed on the text, not on an account, so unknown identifiers are limited alike and
    the limit says nothing about which accounts exist.
    """

    def key() -> str:
        typed = "".join((request.form.get(name) or "").split()).lower()
        return f"{name}:{typed}"

    return key
