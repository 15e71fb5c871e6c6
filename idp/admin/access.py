"""Who gets into the console: an SSO session, a console role, a second factor."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from idp.admin import bp
from idp.admin import services
from idp.auth import session as sso
from idp.oidc.models import BrowserSession


def has_second_factor(current: BrowserSession) -> bool:
    """The session was opened (or stepped up) with a second factor."""
    from idp.mfa.services import session_has_second_factor

    return session_has_second_factor(current)


def _here() -> str:
    if request.method == "GET":
        return request.full_path.rstrip("?") if request.query_string else request.path
    return url_for("admin.index")


@bp.before_request
def refuse_nul() -> Any:
    """A NUL character in the URL or a form is a bad request (PostgreSQL text cannot hold
    one: the search, filters and lookups would fail with a database error)."""
    values = [v for _, v in request.args.items(multi=True)]
    values += (request.view_args or {}).values()
    if request.method == "POST":
        values += [v for _, v in request.form.items(multi=True)]
    if any("\x00" in str(value) for value in values):
        abort(400)
    return None


@bp.before_request
def guard() -> Any:
    """Anonymous: to the login page. No role: "page introuvable" (the console is not
    advertised). No second factor: to the step-up page."""
    current = sso.current_session()
    if current is None:
        return redirect(url_for("auth.login", next=_here()))
    roles = services.roles_of(current.account)
    if not roles:
        abort(404)
    if not has_second_factor(current):
        return redirect(url_for("mfa.step_up", next=_here()))
    g.admin_session = current
    g.operator = current.account
    g.roles = roles
    return None


@bp.context_processor
def console_context() -> dict[str, Any]:
    return {
        "operator": g.get("operator"),
        "roles": g.get("roles", set()),
        "current": g.get("admin_session"),
    }


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Sections reserved to administrators: a helpdesk agent gets a 403 page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if "admin" not in g.roles:
            return render_template("admin/forbidden.html"), 403
        return view(*args, **kwargs)

    return wrapped
