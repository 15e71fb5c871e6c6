"""The journeys engine: a journey is a sequence of steps with its own policy and channels.

A step owns a form class, a template and a `save` function that copies the validated
form into the server-side enrolment data. Journeys register themselves in JOURNEYS;
the views are generic and drive any of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select

from idp.enrolment.models import Enrolment
from idp.extensions import db
from idp.models import utcnow
from idp.security import tokens

IN_PROGRESS_LIFETIME = dt.timedelta(hours=24)
# ameli rules (seed 003), applied to every journey: a link is valid 7 days; from 7 to
# 21 days it may be re-sent to the same address; after 21 days the pending account goes.
LINK_VALIDITY = dt.timedelta(days=7)
RESEND_WINDOW = dt.timedelta(days=21)
CODE_VALIDITY = dt.timedelta(minutes=15)
CGU_VERSION = "2026-11"
PRIVACY_VERSION = "2026-11"


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    form: type[FlaskForm]
    template: str
    save: Callable[[Enrolment, Any], None]
    # Fill the form from what was typed before (back without losing anything).
    load: Callable[[Enrolment, Any], None] | None = None
    # Extra template context: fn(enrolment, form) -> dict.
    context: Callable[[Enrolment, Any], dict[str, Any]] | None = None
    # Left out for this person when fn(enrolment) is true (a parent activating for a child
    # chooses no password): `advance` jumps over it and "Retour" does not lead to it.
    skip: Callable[[Enrolment], bool] | None = None
    # Commit even when the form is refused: its validation counts something that must
    # stay counted (the attempts on a one-time code).
    commit_refused: bool = False

    def skipped(self, enrolment: Enrolment) -> bool:
        return self.skip is not None and bool(self.skip(enrolment))


@dataclass(frozen=True)
class Journey:
    name: str
    title: str
    steps: tuple[Step, ...]
    policy: str
    channels: tuple[str, ...]
    # "email": the email is the login; "username": an identifier chosen by the person.
    identifier: str
    # Called when the last step validates; creates the pending account, returns a result.
    finish: Callable[[Enrolment, Any], Any]
    # After the email link: a finalisation form (ARS) instead of immediate activation.
    finalise: Step | None = None
    offers_franceconnect: bool = False
    # How this journey's portals log people in: "any" (email or username) or an
    # identifier kind ("nir", "finess", "ine") looked up by its keyed hash.
    login_kind: str = "any"
    extra: dict[str, Any] = field(default_factory=dict)
    # A journey that proves the person along the way (Mon espace santé: card + one-time
    # code) ends with fn(journey, enrolment) -> response instead of `finish` followed by
    # the activation link or code; it commits and sends what it needs itself.
    conclude: Callable[[Journey, Enrolment], Any] | None = None
    # After the email link activated the account, before the sign-up data is wiped:
    # fn(enrolment, account) -> the page to go to instead of the portal, or None.
    on_activated: Callable[[Enrolment, Any], str | None] | None = None

    def index(self, step_name: str) -> int:
        for i, step in enumerate(self.steps):
            if step.name == step_name:
                return i
        raise KeyError(step_name)

    def step(self, step_name: str) -> Step:
        return self.steps[self.index(step_name)]


class Stop(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """Raised by a step's `save` to end the journey politely (e.g. CGU refused).

    The view cancels the sign-up (nothing stays) and renders `template` with `context`.
    """

    def __init__(self, template: str, **context: Any):
        super().__init__(template)
        self.template = template
        self.context = context


JOURNEYS: dict[str, Journey] = {}


# URL segments the generic views own under /inscription/<journey>/.
RESERVED_STEP_NAMES = frozenset({"activation", "courriel-envoye", "renvoyer", "code", "annuler"})


def register(journey: Journey) -> Journey:
    clash = RESERVED_STEP_NAMES & {step.name for step in journey.steps}
    if clash:
        raise ValueError(f"step names reserved by the engine: {sorted(clash)}")
    JOURNEYS[journey.name] = journey
    return journey


def get_journey(name: str | None) -> Journey | None:
    return JOURNEYS.get(name or "")


def start(journey: Journey, client_id: str | None, return_to: str | None) -> tuple[Enrolment, str]:
    """Open a sign-up; return it and the cookie value."""
    secret = tokens.new_token(32)
    enrolment = Enrolment(
        token_hash=tokens.sha256(secret),
        journey=journey.name,
        client_id=client_id,
        return_to=return_to,
        step=journey.steps[0].name,
        reached=0,
        data={},
        expires_at=utcnow() + IN_PROGRESS_LIFETIME,
    )
    db.session.add(enrolment)
    return enrolment, secret


def find(secret: str | None) -> Enrolment | None:
    if not secret:
        return None
    return db.session.scalar(select(Enrolment).where(Enrolment.token_hash == tokens.sha256(secret)))


def remember(enrolment: Enrolment, **values: Any) -> None:
    """Merge values into the enrolment data (JSON column: assign a new dict)."""
    enrolment.data = {**(enrolment.data or {}), **values}


def advance(journey: Journey, enrolment: Enrolment, step: Step) -> Step | None:
    """Move past `step` (and the steps skipped for this person); None when it was the last."""
    i = journey.index(step.name) + 1
    while i < len(journey.steps) and journey.steps[i].skipped(enrolment):
        i += 1
    if i >= len(journey.steps):
        return None
    enrolment.step = journey.steps[i].name
    enrolment.reached = max(enrolment.reached, i)
    return journey.steps[i]


def previous(journey: Journey, enrolment: Enrolment, step: Step) -> Step | None:
    """The step "Retour" leads to: the closest earlier one not skipped for this person."""
    for earlier in reversed(journey.steps[: journey.index(step.name)]):
        if not earlier.skipped(enrolment):
            return earlier
    return None


def rewind(journey: Journey, enrolment: Enrolment, step: Step) -> None:
    """An answer changed at `step`: the later steps must be done again before finishing."""
    enrolment.reached = journey.index(step.name)


def cancel(enrolment: Enrolment) -> None:
    """Forget what was typed; a pending account created by it goes too."""
    from idp.models import Account

    enrolment.status = "cancelled"
    enrolment.data = {}
    enrolment.password_hash = None
    if enrolment.account_id:
        account = db.session.get(Account, enrolment.account_id)
        if account is not None and account.status == "pending":
            db.session.delete(account)
        enrolment.account_id = None
