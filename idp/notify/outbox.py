"""The durable outbox: messages queued in the caller's transaction, sent after the commit.

Like back-channel logout tokens (idp/oidc/backchannel.py), a mail or SMS is a row added
to the transaction that needs it: a sign-up and its activation mail commit together, so
an SMTP outage never loses a sign-up. After the commit a background thread sends it;
failures are retried with exponential backoff, and `idp outbox run` (cron) sends what
is left after a restart.

A worker claims a message with a compare-and-set UPDATE (attempts = seen + 1) committed
before it talks to the server, so two workers (threads, instances, cron) never send the
same message twice, and a worker that dies mid-send leaves a message retried later.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask import g
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from idp.background import in_background
from idp.extensions import db
from idp.models import utcnow
from idp.notify.masking import mask_recipient
from idp.notify.models import CHANNELS
from idp.notify.models import OutboxMessage
from idp.security import audit

log = logging.getLogger(__name__)
PENDING_FLAG = "notify_pending"
MAX_DELAY = dt.timedelta(hours=6)


class DeliveryError(Exception):
    """A transport failed; its message is safe to store (no content, no credential)."""


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after the n-th attempt: 1 min, 2 min, 4 min … at most 6 h."""
    return min(dt.timedelta(seconds=30 * 2 ** min(attempts, 20)), MAX_DELAY)


def enqueue(
    channel: str,
    recipient: str,
    template: str,
    *,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
) -> OutboxMessage:
    """Add a rendered message to the current transaction (never commits)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel: {channel!r}")
    now = utcnow()
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        template=template,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    g.setdefault(PENDING_FLAG, True)
    log.info("%s %r queued for %s", channel, template, mask_recipient(channel, recipient))
    return message


def _transport(channel: str) -> Callable[[OutboxMessage], None]:
    # Imported here: mail and sms import this module to enqueue.
    from idp.notify import mail
    from idp.notify import sms

    return {"mail": mail.transmit, "sms": sms.transmit}[channel]


def describe_error(exc: BaseException) -> str:
    """A one-line, storable description of a failure: never a message body."""
    detail = ""
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        detail = f"{exc.smtp_code} {text}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        detail = " ".join(str(code) for code, _ in exc.recipients.values())
    elif isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
    elif isinstance(exc, DeliveryError):
        detail = str(exc)
    line = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return " ".join(line.split())[:300]


def _claim(message_id: int, seen_attempts: int, ignore_schedule: bool) -> bool:
    now = utcnow()
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts == seen_attempts,
            OutboxMessage.attempts < max_attempts(),
        )
        # Scheduled as if this attempt failed: a crash mid-send means a retry later.
        .values(attempts=seen_attempts + 1, next_attempt_at=now + retry_delay(seen_attempts + 1))
        .execution_options(synchronize_session=False)
    )
    if not ignore_schedule:
        stmt = stmt.where(OutboxMessage.next_attempt_at <= now)
    claimed = db.session.execute(stmt).rowcount == 1
    db.session.commit()
    return claimed


def _deliver(message_id: int, seen_attempts: int, ignore_schedule: bool) -> bool | None:
    if not _claim(message_id, seen_attempts, ignore_schedule):
        return None
    message = db.session.get(OutboxMessage, message_id)
    if message is None:  # deleted meanwhile
        return None
    who = mask_recipient(message.channel, message.recipient)
    try:
        _transport(message.channel)(message)
    except (OSError, DeliveryError) as exc:
        ok, message.last_error = False, describe_error(exc).replace(message.recipient, who)
        log.warning(
            "%s %r to %s failed: %s", message.channel, message.template, who, message.last_error
        )
    except Exception as exc:  # a bug or a third-party provider: keep the queue moving
        ok, message.last_error = False, describe_error(exc).replace(message.recipient, who)
        log.exception("%s %r to %s failed unexpectedly", message.channel, message.template, who)
    else:
        ok = True
        message.sent_at = utcnow()
        message.wipe_content()
        log.info("%s %r sent to %s", message.channel, message.template, who)
    if not ok and message.attempts >= max_attempts():
        log.error("%s %r to %s given up", message.channel, message.template, who)
        audit.record(
            "notify.given_up",
            channel=message.channel,
            template=message.template,
            message_id=message.id,
            error=message.last_error,
        )
    db.session.commit()
    return ok


def deliver(message: OutboxMessage, *, ignore_schedule: bool = False) -> bool | None:
    """One attempt at a committed message: True sent, False failed, None not due or taken.

    Commits the session (the claim, then the outcome): call it after the caller's commit.
    """
    if message.id is None:
        raise ValueError("commit the transaction that queued the message first")
    return _deliver(message.id, message.attempts, ignore_schedule)


def due(limit: int = 100, *, ignore_schedule: bool = False) -> list[tuple[int, int]]:
    """(id, attempts) of the messages to send now, oldest schedule first."""
    query = select(OutboxMessage.id, OutboxMessage.attempts).where(_pending())
    if not ignore_schedule:
        query = query.where(OutboxMessage.next_attempt_at <= utcnow())
    query = query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    return [(row.id, row.attempts) for row in db.session.execute(query)]


def process(limit: int = 100, *, ignore_schedule: bool = False) -> RunReport:
    """Send up to `limit` due messages (all unsent ones with ignore_schedule)."""
    report = RunReport()
    for message_id, attempts in due(limit, ignore_schedule=ignore_schedule):
        outcome = _deliver(message_id, attempts, ignore_schedule)
        if outcome is True:
            report.sent += 1
        elif outcome is False:
            report.failed += 1
    return report


def run_pending(limit: int = 100) -> int:
    """Send every due message (up to `limit`); return how many were sent."""
    return process(limit).sent


def dispatch_after_commit() -> None:
    """Send what this request queued: in a background thread, or at once if not NOTIFY_ASYNC."""
    if not g.pop(PENDING_FLAG, False):
        return
    if not current_app.config["NOTIFY_ASYNC"]:
        run_pending()
        return
    in_background("idp-notify", run_pending)


def max_attempts() -> int:
    return current_app.config["OUTBOX_MAX_ATTEMPTS"]


def _pending():
    return OutboxMessage.sent_at.is_(None) & (OutboxMessage.attempts < max_attempts())


def _given_up():
    return OutboxMessage.sent_at.is_(None) & (OutboxMessage.attempts >= max_attempts())


def counts() -> dict[str, int]:
    """How many messages are pending, given up (failed) and sent."""
    pending, failed, sent = db.session.execute(
        select(
            func.count().filter(_pending()),
            func.count().filter(_given_up()),
            func.count().filter(OutboxMessage.sent_at.is_not(None)),
        )
    ).one()
    return {"pending": pending, "failed": failed, "sent": sent}


def unsent(limit: int = 50) -> list[OutboxMessage]:
    """Messages not sent yet, pending or given up, oldest first."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def purge_sent(older_than_days: int = 30, *, now: dt.datetime | None = None) -> int:
    """Delete messages sent, or given up, more than N days ago (caller commits)."""
    horizon = (now or utcnow()) - dt.timedelta(days=older_than_days)
    result = db.session.execute(
        delete(OutboxMessage)
        .where(
            or_(
                OutboxMessage.sent_at < horizon,
                _given_up() & (OutboxMessage.created_at < horizon),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
