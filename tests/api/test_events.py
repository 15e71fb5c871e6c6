"""The audit log through the admin API: filters, pagination, people named by their sub."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.extensions import db
from idp.models import AuditEvent


def record(app, event, account_id, client_id, at):
    with app.app_context():
        db.session.add(
            AuditEvent(
                event=event, account_id=account_id, client_id=client_id, created_at=at, details={}
            )
        )
        db.session.commit()


def names(response):
    assert response.status_code == 200, response.text
    return [e["event"] for e in response.get_json()["items"]]


def test_events_are_filtered_and_paginated(app, api, factories):
    marie = factories.account()
    pierre = factories.account(email="pierre@example.fr")
    base = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    record(app, "login.succeeded", marie.id, "portail-a", at=base)
    record(app, "login.failed", marie.id, "portail-b", at=base + dt.timedelta(days=1))
    record(app, "login.succeeded", pierre.id, "portail-a", at=base + dt.timedelta(days=2))

    by_person = api.get(f"/audit-events?sub={marie.sub}&until=2026-02-01T00:00:00Z")
    assert names(by_person) == ["login.failed", "login.succeeded"]
    assert {e["sub"] for e in by_person.get_json()["items"]} == {marie.sub}
    assert names(api.get("/audit-events?client_id=portail-a&until=2026-02-01T00:00:00Z")) == [
        "login.succeeded",
        "login.succeeded",
    ]
    assert names(api.get("/audit-events?event=login.failed")) == ["login.failed"]
    window = api.get("/audit-events?since=2026-01-11T00:00:00%2B00:00&until=2026-01-12T00:00:00")
    assert names(window) == ["login.failed"]

    page = api.get("/audit-events?limit=1&offset=1&until=2026-02-01T00:00:00Z")
    assert page.get_json()["limit"] == 1 and page.get_json()["offset"] == 1
    assert names(page) == ["login.failed"]
    unknown = api.get("/audit-events?sub=00000000-0000-0000-0000-000000000000")
    assert unknown.get_json()["items"] == []


def test_an_event_shows_no_database_id_of_a_person(app, api, factories):
    marie = factories.account()
    (event,) = api.get(f"/audit-events?sub={marie.sub}").get_json()["items"]
    assert event["sub"] == marie.sub
    assert "account_id" not in event and "user_agent" not in event


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=hier", "since : date et heure ISO 8601 attendues."),
        ("until=2026-13-01T00:00:00Z", "until : date et heure ISO 8601 attendues."),
        ("limit=201", "limit : entre 1 et 200."),
        ("offset=-1", "offset : entre 0 et 100000."),
        ("offset=99999999999999999999", "offset : un entier est attendu."),
        ("sub=a%20b", "sub : format refusé."),
        ("event=" + "e" * 65, "event : 64 caractères au plus."),
    ],
)
def test_invalid_filters_are_refused_in_french(api, query, message):
    response = api.get(f"/audit-events?{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request", "error_description": message}
