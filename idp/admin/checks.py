"""Helpdesk checks: the review queue of ARS sign-ups, the secret answer given on the phone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from idp import notify
from idp.admin.people import ActionRefused
from idp.admin.shared import Actor
from idp.admin.shared import actor_details
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security import audit

# Wrong secret answers an agent may type for one person within the window.
ANSWER_ATTEMPTS = 5
ANSWER_WINDOW = dt.timedelta(hours=1)


def review_queue() -> list[Account]:
    """Sign-ups waiting for an operator (ARS interns without an INE), oldest first."""
    return list(
        db.session.scalars(
            select(Account)
            .where(Account.review_status == "pending")
            .order_by(Account.created_at, Account.id)
        )
    )


def review(
    account: Account,
    decision: str,
    reason: str | None,
    actor: Actor,
    origin: audit.Origin | None,
) -> None:
    """Accept or reject a sign-up under review; the person is mailed (with the reason when
    rejected) and a rejected account is disabled."""
    if account.review_status != "pending":
        raise ActionRefused("not_pending_review")
    reason = (reason or "").strip()[:1000]
    if decision not in ("accepted", "rejected"):
        raise ActionRefused("bad_decision")
    if decision == "rejected" and not reason:
        raise ActionRefused("reason_required")
    # The decision sent twice at once (a double click): only the first one decides.
    with db.session.no_autoflush:
        decided = db.session.execute(
            update(Account)
            .where(Account.id == account.id, Account.review_status == "pending")
            .values(review_status=decision)
            .execution_options(synchronize_session=False)
        ).rowcount
    if decided != 1:
        raise ActionRefused("not_pending_review")
    account.review_status = decision
    if decision == "rejected":
        from idp.auth import session as sso

        account.status = "disabled"
        sso.end_account_sessions(account.id, origin, "review_rejected")
    if account.email:
        notify.send_mail(
            f"review_{decision}",
            to=account.email,
            given_name=account.given_name,
            reason=reason if decision == "rejected" else None,
            portal_name=None,
        )
    audit.record(
        "admin.review_decided",
        account_id=account.id,
        origin=origin,
        decision=decision,
        **actor_details(actor),
    )


def answer_attempts_left(account: Account, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    failed = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.account_id == account.id,
            AuditEvent.event == "admin.secret_answer_checked",
            AuditEvent.details["result"].as_string() == "wrong",
            AuditEvent.created_at > now - ANSWER_WINDOW,
        )
    )
    return max(0, ANSWER_ATTEMPTS - (failed or 0))


def check_secret_answer(
    account: Account, answer: str, actor: Actor, origin: audit.Origin | None
) -> bool:
    """Compare an answer typed by the agent with the stored hash (normalised like at
    sign-up); five wrong answers per hour per person, then refused."""
    from idp.enrolment.services import check_answer

    if not account.secret_answer_hash:
        raise ActionRefused("no_secret_answer")
    if answer_attempts_left(account) <= 0:
        audit.record(
            "admin.secret_answer_checked",
            account_id=account.id,
            origin=origin,
            result="refused",
            **actor_details(actor),
        )
        raise ActionRefused("too_many_attempts")
    ok = check_answer(account, answer or "")
    audit.record(
        "admin.secret_answer_checked",
        account_id=account.id,
        origin=origin,
        result="right" if ok else "wrong",
        **actor_details(actor),
    )
    return ok
