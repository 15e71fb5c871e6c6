"""Mails: queued in the caller's transaction, sent after the commit, retried, wiped."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select

from idp import notify
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import utcnow
from idp.notify import outbox
from idp.notify.mail import build_email
from idp.notify.models import OutboxMessage
from tests.conftest import ISSUER
from tests.conftest import free_port
from tests.notify.helpers import make_due
from tests.notify.helpers import rows

TO = "marie.curie@example.fr"


def queue_test_mail(app, **context) -> None:
    with app.app_context():
        notify.send_mail("test", to=TO, portal_name="ameli", **context)
        db.session.commit()
        notify.dispatch_after_commit()


def test_mail_is_queued_in_the_callers_transaction_and_sent_after_the_commit(
    notify_app, smtp_server
):
    with notify_app.app_context():
        message = notify.send_mail("test", to=TO, portal_name="ameli")
        assert message in db.session.new
        db.session.commit()
        assert smtp_server.messages == []
        notify.dispatch_after_commit()
    [received] = smtp_server.wait(1)
    assert received.rcpt_tos == [TO]
    assert received.mail_from == "ne-pas-repondre@idp.localhost"
    mail = received.message
    assert mail["Subject"] == "Message de test"
    assert mail["To"] == TO
    assert mail["From"] == "idp <ne-pas-repondre@idp.localhost>"
    assert mail["Date"] and mail["Message-ID"].endswith("@idp.localhost>")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = received.part("plain"), received.part("html")
    # The link is written out in full in both parts, for clients that do not make it clickable.
    assert ISSUER in text and "ameli" in text
    assert f'href="{ISSUER}"' in html and f">{ISSUER}</a>" in html
    assert '<html lang="fr">' in html and "ameli" in html
    assert "<img" not in html


def test_a_rolled_back_transaction_sends_nothing(notify_app, smtp_server):
    with notify_app.app_context():
        notify.send_mail("test", to=TO)
        db.session.rollback()
        notify.dispatch_after_commit()
    assert rows(notify_app) == []
    time.sleep(0.1)
    assert smtp_server.messages == []


def test_content_is_wiped_once_sent_and_the_audit_trail_kept(notify_app, smtp_server):
    queue_test_mail(notify_app)
    smtp_server.wait(1)
    [row] = rows(notify_app)
    assert (row.subject, row.body_text, row.body_html) == (None, None, None)
    assert (row.channel, row.recipient, row.template, row.attempts) == ("mail", TO, "test", 1)
    assert row.sent_at is not None and row.created_at <= row.sent_at
    assert row.last_error is None


def test_smtp_outage_keeps_the_mail_until_outbox_run_sends_it(notify_app, smtp_server):
    smtp_server.stop()
    queue_test_mail(notify_app)
    [row] = rows(notify_app)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error.startswith("ConnectionRefusedError")
    assert row.body_text and row.body_html  # kept for the retry
    wait = row.next_attempt_at - utcnow()
    assert dt.timedelta(seconds=50) < wait <= dt.timedelta(seconds=60)

    smtp_server.start()
    runner = notify_app.test_cli_runner()
    early = runner.invoke(args=["outbox", "run"])
    assert early.exit_code == 0, early.output
    assert "sent=0 failed=0 pending=1" in early.output  # still backing off

    make_due(notify_app)
    result = runner.invoke(args=["outbox", "run"])
    assert result.exit_code == 0, result.output
    assert "sent=1 failed=0 pending=0 given_up=0" in result.output
    [received] = smtp_server.wait(1)
    assert ISSUER in received.part("plain")
    [row] = rows(notify_app)
    assert row.sent_at is not None and row.attempts == 2 and row.body_text is None


def test_a_refused_recipient_is_recorded_without_the_address(notify_app, smtp_server):
    smtp_server.refused.add(TO)
    queue_test_mail(notify_app)
    [row] = rows(notify_app)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error == "SMTPRecipientsRefused: 550"
    assert smtp_server.messages == []


def test_outbox_run_now_skips_the_backoff(notify_app, smtp_server):
    smtp_server.stop()
    queue_test_mail(notify_app)
    smtp_server.start()
    result = notify_app.test_cli_runner().invoke(args=["outbox", "run", "--now"])
    assert "sent=1" in result.output
    smtp_server.wait(1)


def test_backoff_doubles_and_is_capped():
    delays = [outbox.retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 100)]
    assert delays == [60, 120, 240, 6 * 3600, 6 * 3600]


def test_a_mail_is_given_up_after_max_attempts(make_app):
    app = make_app(SMTP_PORT=free_port(), NOTIFY_ASYNC=False, OUTBOX_MAX_ATTEMPTS=2)
    queue_test_mail(app)
    make_due(app)
    runner = app.test_cli_runner()
    assert "sent=0 failed=1 pending=0 given_up=1" in runner.invoke(args=["outbox", "run"]).output
    make_due(app)
    assert "sent=0 failed=0 pending=0 given_up=1" in runner.invoke(args=["outbox", "run"]).output
    [row] = rows(app)
    assert row.attempts == 2 and row.sent_at is None and row.last_error
    listed = runner.invoke(args=["outbox", "list"]).output
    assert listed.splitlines()[0] == "pending=0 failed=1 sent=0"
    assert "\tfailed\tmail\ttest\t" in listed
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "notify.given_up"))
        assert event.details["template"] == "test" and TO not in str(event.details)


def test_a_message_is_claimed_by_one_worker_only(notify_app, smtp_server):
    with notify_app.app_context():
        message = notify.send_mail("test", to=TO)
        db.session.commit()
        stale_attempts = message.attempts
        assert outbox.deliver(message) is True
        # A second worker that read the row before the first one claimed it.
        assert outbox._deliver(message.id, stale_attempts, ignore_schedule=True) is None
    assert len(smtp_server.wait(1)) == 1
    time.sleep(0.1)
    assert len(smtp_server.messages) == 1


def test_async_mode_sends_from_a_background_thread(make_app, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=True)
    queue_test_mail(app)
    smtp_server.wait(1, timeout=5)
    for thread in threading.enumerate():
        if thread.name == "idp-notify":
            thread.join(5)
            assert not thread.is_alive()
    deadline = time.monotonic() + 5
    while rows(app)[0].sent_at is None:
        assert time.monotonic() < deadline, "sent_at never recorded"
        time.sleep(0.05)


def test_message_headers_cannot_be_injected(notify_app):
    with notify_app.app_context():
        for bad in ("a@b.fr\r\nBcc: x@y.fr", "a@b.fr, c@d.fr", "nobody", ""):
            with pytest.raises(ValueError):
                notify.send_mail("test", to=bad)
        for name in ("../test", "Test", "test/../x", ""):
            with pytest.raises(ValueError):
                notify.send_mail(name, to=TO)
        db.session.rollback()


def test_message_id_is_stable_across_attempts(notify_app):
    with notify_app.app_context():
        message = notify.send_mail("test", to=TO)
        db.session.commit()
        first, second = build_email(message), build_email(message)
        assert first["Message-ID"] == second["Message-ID"]


def test_purge_sent_deletes_old_sent_and_given_up_messages(notify_app, smtp_server):
    queue_test_mail(notify_app)
    smtp_server.wait(1)
    with notify_app.app_context():
        stuck = OutboxMessage(
            channel="mail", recipient=TO, template="test", attempts=8, body_text="x"
        )
        recent = OutboxMessage(channel="mail", recipient=TO, template="test", body_text="x")
        db.session.add_all([stuck, recent])
        db.session.commit()
        assert notify.purge_sent(30) == 0
        assert notify.purge_sent(30, now=utcnow() + dt.timedelta(days=31)) == 2
        db.session.commit()
    [left] = rows(notify_app)
    assert left.attempts == 0 and left.sent_at is None


def test_outbox_purge_command(notify_app):
    result = notify_app.test_cli_runner().invoke(args=["outbox", "purge", "--days", "30"])
    assert result.exit_code == 0 and "deleted=0" in result.output


def test_outbox_test_command_sends_the_test_mail(notify_app, smtp_server):
    runner = notify_app.test_cli_runner()
    result = runner.invoke(args=["outbox", "test", "--to", TO, "--portal-name", "ameli"])
    assert result.exit_code == 0, result.output
    assert "sent to m***@example.fr" in result.output
    [received] = smtp_server.wait(1)
    assert received.message["Subject"] == "Message de test"
    assert runner.invoke(args=["outbox", "test"]).exit_code != 0


def test_outbox_test_command_reports_a_failure(make_app):
    app = make_app(SMTP_PORT=free_port(), NOTIFY_ASYNC=False)
    result = app.test_cli_runner().invoke(args=["outbox", "test", "--to", TO])
    assert result.exit_code != 0
    assert "ConnectionRefusedError" in result.output
    assert rows(app)[0].attempts == 1


def test_a_mail_queued_in_a_request_is_rendered_in_its_language(notify_app, smtp_server):
    with notify_app.test_request_context("/?ui_locales=fr"):
        notify.send_mail("test", to=TO)
        db.session.commit()
        notify.dispatch_after_commit()
    assert '<html lang="fr">' in smtp_server.wait(1)[0].part("html")
