"""The OpenAPI document and what every API view shares: origin, commit, serialisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for

from idp import notify
from idp.api import bp
from idp.api import openapi
from idp.extensions import db
from idp.oidc import backchannel
from idp.security import audit


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 description of this API (public: it holds no secret)."""
    token_url = current_app.config["ISSUER"] + url_for("oidc.token")
    return jsonify(openapi.document(token_url))


def origin() -> audit.Origin:
    return audit.origin_of(request)


def commit() -> None:
    """Commit the request's changes, then send what they queued (mail, back-channel)."""
    db.session.commit()
    notify.dispatch_after_commit()
    backchannel.dispatch_after_commit()


def timestamp(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def page(items: list[Any], **extra: Any):
    return jsonify(items=items, **extra)
