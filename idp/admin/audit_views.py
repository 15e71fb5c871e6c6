"""The audit log: filtered list and CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response
from flask import g
from flask import render_template
from flask import request
from flask import stream_with_context
from flask import url_for

from idp.admin import bp
from idp.admin import services
from idp.admin.access import admin_only
from idp.admin.forms import AuditFilterForm
from idp.admin.reports import count_events
from idp.admin.views import MAX_ID
from idp.auth.services import find_account
from idp.extensions import db
from idp.security import audit

PAGE = 50
MAX_PAGE = 100_000  # beyond, the offset would not fit a database integer


def _filters(form: AuditFilterForm) -> dict[str, Any] | None:
    """The service's filters, or None when a filter names nobody (nothing matches)."""
    filters: dict[str, Any] = {}
    if form.person.data:
        raw = form.person.data.strip()
        if raw.isdigit():
            if int(raw) > MAX_ID:
                return None
            filters["person"] = int(raw)
        else:
            account = find_account(raw)
            if account is None:
                return None
            filters["person"] = account.id
    if form.client_id.data:
        filters["client_id"] = form.client_id.data.strip()
    if form.event.data:
        filters["event"] = form.event.data.strip()
    if form.since.data:
        filters["since"] = dt.datetime.combine(form.since.data, dt.time(), dt.UTC)
    if form.until.data and form.until.data < dt.date.max:  # until the last day: no bound
        filters["until"] = dt.datetime.combine(form.until.data, dt.time(), dt.UTC) + dt.timedelta(
            days=1
        )
    return filters


@bp.get("/journal")
@admin_only
def audit_log() -> Any:
    """Audit events filtered by person, portal, event type and dates."""
    form = AuditFilterForm(request.args)
    valid = form.validate()
    filters = _filters(form) if valid else None
    page = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    events: list = []
    total = 0
    if filters is not None:
        events = services.audit_events(**filters, limit=PAGE, offset=(page - 1) * PAGE)
        total = count_events(**filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        form=form,
        events=events,
        total=total,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        args=args,
        csv_url=url_for(".audit_export", **args),
    ), (200 if valid else 400)


@bp.get("/journal.csv")
@admin_only
def audit_export() -> Any:
    """The filtered events as a CSV file (UTF-8 with BOM for spreadsheets)."""
    form = AuditFilterForm(request.args)
    filters = _filters(form) if form.validate() else None
    audit.record(
        "admin.audit_exported",
        origin=audit.origin_of(request),
        actor_id=g.operator.id,
        filters={k: str(v) for k, v in (filters or {}).items()},
    )
    db.session.commit()

    def lines() -> Any:
        yield "\ufeff"
        # A filter naming nobody matches nothing: the headers alone.
        yield from services.audit_csv(
            **(filters or {}), limit=100_000 if filters is not None else 0
        )

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="journal-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
