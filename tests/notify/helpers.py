"""Helpers for outbox tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.models import utcnow
from idp.notify.models import OutboxMessage


def rows(app) -> list[OutboxMessage]:
    with app.app_context():
        found = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return found


def make_due(app) -> None:
    """Time passes: every backoff is over."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()
