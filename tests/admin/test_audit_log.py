"""Audit log: filters, CSV export (French headers, formula-safe), dashboard figures."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import update

from idp.extensions import db
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security import audit
from tests.admin.conftest import post_form


def seed(app, person_id):
    with app.app_context():
        audit.record("login.failed", account_id=person_id, reason="bad_password")
        audit.record("login.succeeded", account_id=person_id, method="pwd")
        audit.record("client.updated", client_id="portail-a", fields=['=HYPERLINK("x")'])
        audit.record("login.failed", account_id=person_id, reason="old")
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.details["reason"].as_string() == "old")
            .values(created_at=utcnow() - dt.timedelta(days=40))
        )
        audit.record("session.opened", account_id=person_id, amr=["pwd"])
        audit.record("session.opened", account_id=person_id, amr=["fc"])
        audit.record("session.opened", account_id=person_id, amr=["pwd", "otp"])
        audit.record("enrolment.started", journey="ameli")
        audit.record("enrolment.started", journey="ameli")
        audit.record("account.created", account_id=person_id, journey="ameli")
        ua = audit.Origin(ip="10.0.0.1", user_agent="@SUM(1+1)")
        audit.record("login.refused", account_id=person_id, origin=ua)
        db.session.commit()


def rows(text):
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_filter_by_person_event_portal_and_date(app, admin, factories):
    person = factories.account(email="suivi@example.fr")
    seed(app, person.id)
    page = admin.get("/admin/journal?person=suivi@example.fr&event=login.failed")
    assert page.status_code == 200
    assert 'data-total="2"' in page.text
    since = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    page = admin.get(f"/admin/journal?person={person.id}&event=login&since={since}")
    assert 'data-total="3"' in page.text  # failed, succeeded, refused (not the old one)
    page = admin.get("/admin/journal?client_id=portail-a")
    assert 'data-total="1"' in page.text and "client.updated" in page.text
    page = admin.get("/admin/journal?person=personne@example.fr")
    assert 'data-total="0"' in page.text


def test_bad_filters_are_a_french_message_not_a_crash(admin):
    page = admin.get("/admin/journal?since=hier&page=abc")
    assert page.status_code == 400
    assert "date" in page.text.lower()


def test_csv_export_has_french_headers_and_no_formulas(app, admin, factories):
    person = factories.account(email="suivi@example.fr")
    seed(app, person.id)
    response = admin.get(f"/admin/journal.csv?person={person.id}&event=login.refused")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = rows(response.text)
    assert table[0] == [
        "Date (UTC)",
        "Événement",
        "Compte",
        "Portail",
        "Adresse IP",
        "Navigateur",
        "Détails",
    ]
    assert len(table) == 2
    assert table[1][1] == "login.refused"
    assert table[1][5] == "'@SUM(1+1)"
    everything = rows(admin.get("/admin/journal.csv?client_id=portail-a").text)
    assert everything[1][6].startswith('{"fields"')
    for row in everything[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    with app.app_context():
        from sqlalchemy import select

        assert db.session.scalar(
            select(AuditEvent).where(AuditEvent.event == "admin.audit_exported")
        )


def test_a_cell_starting_with_a_formula_sign_is_quoted(app):
    from idp.admin.reports import safe_cell

    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("-2") == "'-2"
    assert safe_cell("+33 6") == "'+33 6"
    assert safe_cell("normal") == "normal"


def test_dashboard_figures(app, admin, factories):
    person = factories.account(email="suivi@example.fr")
    pending = factories.account(email="attente@example.fr", active=False)
    with app.app_context():
        from idp.models import Account

        db.session.get(Account, pending.id).created_at = utcnow() - dt.timedelta(days=3)
        db.session.commit()
    seed(app, person.id)
    page = admin.get("/admin/tableau-de-bord")
    assert page.status_code == 200
    with app.app_context():
        from idp.admin.services import dashboard

        figures = dashboard()
    assert {"journey": "ameli", "started": 2, "finished": 1, "activated": 0} in figures["signups"]
    assert figures["logins"]["password"] == 3  # with the operator's own session
    assert figures["logins"]["franceconnect"] == 1
    assert figures["failures"]["login.failed"] == 1  # the 40-day-old one is out
    assert figures["pending_activations"]["d1_7"] == 1
    assert 'data-journey="ameli"' in page.text
    assert '<td data-logins="password">3</td>' in page.text


def test_every_console_action_is_in_the_audit_log(app, admin, factories):
    person = factories.account(email="cible@example.fr")
    post_form(admin, f"/admin/personnes/{person.id}/sessions")
    page = admin.get("/admin/journal?event=admin")
    assert "admin.sessions_revoked" in page.text
