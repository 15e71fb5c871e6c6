"""People: search, status and history, helpdesk actions, ARS review queue, secret answer.

People are named by their public `sub`; no password hash, secret answer or its hash, nor
any identifier (NIR…) ever leaves this API.
"""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify
from sqlalchemy import select

from idp.admin import services
from idp.admin.people import history
from idp.api import bp
from idp.api.auth import actor
from idp.api.auth import require
from idp.api.errors import ApiError
from idp.api.events import serialise_events
from idp.api.openapi import ACTIONS
from idp.api.openapi import MAX_LIMIT
from idp.api.openapi import SUB_PATTERN
from idp.api.validation import int_arg
from idp.api.validation import json_body
from idp.api.validation import text_arg
from idp.api.views import commit
from idp.api.views import origin
from idp.api.views import page
from idp.api.views import timestamp
from idp.auth import lockout
from idp.extensions import db
from idp.models import Account

SCOPE = "admin:users"
HISTORY_LENGTH = 20

# Why a helpdesk action does not apply (services.ActionRefused.reason), in French.
REFUSALS = {
    "not_pending": (409, "Le compte n'est pas en attente d'activation."),
    "no_enrolment": (409, "L'inscription de ce compte n'existe plus : aucun lien possible."),
    "already_disabled": (409, "Le compte est déjà désactivé."),
    "not_disabled": (409, "Le compte n'est pas désactivé."),
    "not_active": (409, "Le compte n'est pas actif : réinitialisation impossible."),
    "not_pending_review": (409, "Aucune inscription de cette personne n'attend de revue."),
    "bad_decision": (400, "decision : accepted ou rejected."),
    "reason_required": (400, "reason : le motif est obligatoire pour un refus."),
    "no_secret_answer": (409, "Aucune question secrète n'est enregistrée pour cette personne."),
    "too_many_attempts": (429, "Trop de réponses fausses : réessayez dans une heure."),
}


def _refused(exc: services.ActionRefused) -> ApiError:
    db.session.rollback()
    status, description = REFUSALS.get(exc.reason, (409, "Action impossible pour ce compte."))
    error = {400: "invalid_request", 429: "slow_down"}.get(status, "action_refused")
    return ApiError(status, error, description)


def serialise(account: Account) -> dict[str, Any]:
    return {
        "sub": account.sub,
        "status": account.status,
        "email": account.email,
        "username": account.username,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "usage_name": account.usage_name,
        "review_status": account.review_status,
        "journey": account.journey,
        "created_at": timestamp(account.created_at),
    }


def _person(sub: str) -> Account:
    account = None
    if re.match(SUB_PATTERN, sub):
        account = db.session.scalar(select(Account).where(Account.sub == sub))
    if account is None:
        raise ApiError(404, "not_found", "Personne inconnue.")
    return account


@bp.get("/users")
@require(SCOPE)
def search_people():
    """People matching a name, email or username fragment, or an identifier exactly."""
    query = text_arg("q", 200) or ""
    limit = int_arg("limit", 50, 1, MAX_LIMIT)
    return page([serialise(a) for a in services.search_people(query, limit=limit)])


@bp.get("/users/<sub>")
@require(SCOPE)
def show_person(sub: str):
    """A person's status and latest audit events."""
    account = _person(sub)
    return jsonify(
        serialise(account)
        | {
            "email_verified": account.email_verified_at is not None,
            "phone_verified": account.phone_verified_at is not None,
            "locked": lockout.is_locked(account),
            "has_password": account.password_hash is not None,
            "has_secret_answer": account.secret_answer_hash is not None,
            "secret_question": account.secret_question,
            "history": serialise_events(history(account, limit=HISTORY_LENGTH)),
        }
    )


@bp.post("/users/<sub>/actions/<action>")
@require(SCOPE)
def act_on_person(sub: str, action: str):
    """resend-activation, unlock, disable, enable, force-password-reset, revoke-sessions."""
    if action not in ACTIONS:
        raise ApiError(404, "not_found", "Action inconnue.")
    account = _person(sub)
    who, where = actor(), origin()
    result: dict[str, Any] = {}
    try:
        if action == "resend-activation":
            services.resend_activation(account, who, where)
            result["mailed"] = True
        elif action == "unlock":
            services.unlock(account, who, where)
        elif action in ("disable", "enable"):
            services.set_disabled(account, action == "disable", who, where)
        elif action == "force-password-reset":
            result["mailed"] = services.force_password_reset(account, who, where)
        else:
            result["sessions_ended"] = services.revoke_sessions(account, who, where)
    except services.ActionRefused as exc:
        raise _refused(exc) from None
    commit()
    return jsonify({"sub": account.sub, "action": action, "status": account.status, **result})


@bp.get("/reviews")
@require(SCOPE)
def review_queue():
    """Sign-ups waiting for an operator, oldest first."""
    return page([serialise(a) for a in services.review_queue()])


@bp.post("/reviews/<sub>")
@require(SCOPE)
def review(sub: str):
    """Accept or reject a sign-up under review (a reason is required to reject)."""
    account = _person(sub)
    body = json_body("ReviewDecision")
    try:
        services.review(account, body["decision"], body.get("reason"), actor(), origin())
    except services.ActionRefused as exc:
        raise _refused(exc) from None
    commit()
    return jsonify(sub=account.sub, review_status=account.review_status, status=account.status)


@bp.post("/users/<sub>/secret-answer/check")
@require(SCOPE)
def check_secret_answer(sub: str):
    """Compare an answer given on the phone with the stored one; only the outcome is told."""
    account = _person(sub)
    body = json_body("SecretAnswer")
    try:
        match = services.check_secret_answer(account, body["answer"], actor(), origin())
    except services.ActionRefused as exc:
        if exc.reason == "too_many_attempts":
            commit()  # the refusal itself is audited
        raise _refused(exc) from None
    commit()
    return jsonify(match=match)
