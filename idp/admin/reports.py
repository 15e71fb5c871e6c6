"""Audit log queries, its CSV export, and the dashboard figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow

CSV_HEADERS = (
    "Date (UTC)",
    "Événement",
    "Compte",
    "Portail",
    "Adresse IP",
    "Navigateur",
    "Détails",
)
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PENDING_AGE_BUCKETS = (("lt1", 1), ("d1_7", 7), ("d7_21", 21))


def _filtered(
    person: Account | int | None,
    client_id: str | None,
    event: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Any:
    query = select(AuditEvent)
    if person is not None:
        query = query.where(
            AuditEvent.account_id == (person.id if isinstance(person, Account) else int(person))
        )
    if client_id:
        query = query.where(AuditEvent.client_id == client_id)
    if event:
        # "admin" matches every admin.* event; "login.failed" only itself.
        query = query.where(
            or_(
                AuditEvent.event == event, AuditEvent.event.startswith(event + ".", autoescape=True)
            )
        )
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    return query


def audit_events(
    person: Account | int | None = None,
    client_id: str | None = None,
    event: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AuditEvent]:
    """Audit events matching every filter given, newest first."""
    query = _filtered(person, client_id, event, since, until)
    return list(
        db.session.scalars(
            query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(max(1, min(int(limit), 1000)))
            .offset(max(0, int(offset)))
        )
    )


def count_events(
    person: Account | int | None = None,
    client_id: str | None = None,
    event: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    query = _filtered(person, client_id, event, since, until)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _line(cells: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return buffer.getvalue()


def audit_csv(
    person: Account | int | None = None,
    client_id: str | None = None,
    event: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100_000,
) -> Iterator[str]:
    """The matching events as CSV lines (French headers), oldest first."""
    yield _line(list(CSV_HEADERS))
    query = _filtered(person, client_id, event, since, until)
    rows = db.session.scalars(
        query.order_by(AuditEvent.created_at, AuditEvent.id)
        .limit(limit)
        .execution_options(yield_per=500)
    )
    for row in rows:
        yield _line(
            [
                row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                row.event,
                row.account_id,
                row.client_id,
                row.ip,
                row.user_agent,
                json.dumps(row.details, ensure_ascii=False, sort_keys=True) if row.details else "",
            ]
        )


def _login_method(amr: Any) -> str:
    amr = amr or []
    if "pwd" in amr:
        return "password"
    if "mail" in amr or "sms" in amr:
        return "activation"
    return "franceconnect"


def _count_by_journey(event: str, since: dt.datetime) -> Counter:
    journey = AuditEvent.details["journey"].as_string()
    rows = db.session.execute(
        select(journey, func.count(AuditEvent.id))
        .where(AuditEvent.event == event, AuditEvent.created_at >= since)
        .group_by(journey)
    )
    return Counter({name or "—": n for name, n in rows})


def dashboard(now: dt.datetime | None = None, days: int = 30) -> dict[str, Any]:
    """Figures over the last `days` days: sign-ups per journey, pending activations by
    age, logins by method, failures."""
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    started = _count_by_journey("enrolment.started", since)
    finished = _count_by_journey("account.created", since)
    activated = Counter(
        {
            name or "—": n
            for name, n in db.session.execute(
                select(Account.journey, func.count(AuditEvent.id))
                .join(Account, Account.id == AuditEvent.account_id)
                .where(AuditEvent.event == "account.activated", AuditEvent.created_at >= since)
                .group_by(Account.journey)
            )
        }
    )
    journeys = sorted(set(started) | set(finished) | set(activated))
    signups = [
        {
            "journey": name,
            "started": started.get(name, 0),
            "finished": finished.get(name, 0),
            "activated": activated.get(name, 0),
        }
        for name in journeys
    ]
    pending = Counter()
    for created in db.session.scalars(
        select(Account.created_at).where(Account.status == "pending")
    ):
        age = (now - created).days
        bucket = next((name for name, limit in PENDING_AGE_BUCKETS if age < limit), "d21_plus")
        pending[bucket] += 1
    logins = Counter()
    for details in db.session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.event == "session.opened", AuditEvent.created_at >= since
        )
    ):
        logins[_login_method((details or {}).get("amr"))] += 1
    failures = {
        name: db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.event == name, AuditEvent.created_at >= since
            )
        )
        or 0
        for name in ("login.failed", "login.refused", "federation.failed")
    }
    return {
        "since": since,
        "now": now,
        "days": days,
        "signups": signups,
        "pending_activations": {
            name: pending.get(name, 0) for name in ("lt1", "d1_7", "d7_21", "d21_plus")
        },
        "pending_total": sum(pending.values()),
        "logins": {
            name: logins.get(name, 0) for name in ("password", "franceconnect", "activation")
        },
        "failures": failures,
        "review_pending": db.session.scalar(
            select(func.count(Account.id)).where(Account.review_status == "pending")
        )
        or 0,
    }
