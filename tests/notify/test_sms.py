"""SMS: the dev backend writes them as mails; a real provider is a class named by path."""

from __future__ import annotations

import pytest

from idp import notify
from idp.errors import ConfigError
from idp.extensions import db
from idp.notify.sms import SmsError
from idp.notify.sms import render_sms
from tests.notify.helpers import rows


class RecordingProvider:
    """A provider configured by dotted path: IDP_SMS_BACKEND=tests.notify.test_sms.…"""

    sent: list[tuple[str, str]] = []

    def __init__(self, config):
        self.sender = config["MAIL_FROM"]

    def send(self, to_e164: str, text: str) -> None:
        self.sent.append((to_e164, text))


class RefusingProvider:
    def __init__(self, config):
        pass

    def send(self, to_e164: str, text: str) -> None:
        raise SmsError("HTTP 429 quota exceeded")


def queue_test_sms(app, to="06 12 34 56 78") -> None:
    with app.app_context():
        notify.send_sms("test", to=to, portal_name="ameli")
        db.session.commit()
        notify.dispatch_after_commit()


def test_dev_backend_sends_the_sms_as_a_mail_to_the_catcher(notify_app, smtp_server):
    queue_test_sms(notify_app)
    [received] = smtp_server.wait(1)
    assert received.rcpt_tos == ["sms+33612345678@sms.localhost"]
    assert received.message["Subject"] == "SMS pour +33 6 12 34 56 78"
    assert received.message.get_content_type() == "text/plain"
    text = received.message.get_content().strip()
    assert text.startswith("ameli : ") and len(text) <= 160
    [row] = rows(notify_app)
    assert (row.channel, row.recipient, row.template) == ("sms", "+33612345678", "test")
    assert row.sent_at is not None and row.body_text is None


def test_dev_backend_outage_is_recorded_as_an_sms_error(notify_app, smtp_server):
    smtp_server.stop()
    queue_test_sms(notify_app)
    [row] = rows(notify_app)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error.startswith("SmsError: SMTP: ConnectionRefusedError")


def test_a_provider_class_can_be_named_by_dotted_path(make_app):
    RecordingProvider.sent.clear()
    app = make_app(SMS_BACKEND="tests.notify.test_sms.RecordingProvider", NOTIFY_ASYNC=False)
    assert isinstance(app.extensions["idp_sms"], RecordingProvider)
    queue_test_sms(app, to="+33 7 81 23 45 67")
    [(number, text)] = RecordingProvider.sent
    assert number == "+33781234567" and "SMS de test" in text
    assert rows(app)[0].sent_at is not None


def test_a_provider_failure_is_stored_and_retried(make_app):
    app = make_app(SMS_BACKEND="tests.notify.test_sms:RefusingProvider", NOTIFY_ASYNC=False)
    queue_test_sms(app)
    [row] = rows(app)
    assert row.sent_at is None and row.last_error == "SmsError: HTTP 429 quota exceeded"
    assert row.body_text  # kept for the retry


def test_an_unknown_sms_backend_fails_at_start_up(make_app):
    with pytest.raises(ConfigError, match="inconnu"):
        make_app(SMS_BACKEND="carrier-pigeon")
    with pytest.raises(ConfigError, match="introuvable"):
        make_app(SMS_BACKEND="tests.notify.nowhere.Provider")


def test_an_invalid_phone_number_is_refused(notify_app):
    with notify_app.app_context():
        for bad in ("12", "not a number", "+33 1"):
            with pytest.raises(ValueError):
                notify.send_sms("test", to=bad)


def test_the_test_sms_fits_in_one_sms_even_with_a_long_portal_name(notify_app):
    with notify_app.app_context():
        text = render_sms("test", portal_name="Mon espace santé — Assurance Maladie")
    assert len(text) <= 160


def test_outbox_test_command_sends_a_test_sms(notify_app, smtp_server):
    result = notify_app.test_cli_runner().invoke(args=["outbox", "test", "--sms", "0612345678"])
    assert result.exit_code == 0, result.output
    assert "sms #" in result.output and "+33 6 ** ** ** 78" in result.output
    assert smtp_server.wait(1)[0].rcpt_tos == ["sms+33612345678@sms.localhost"]
    bad = notify_app.test_cli_runner().invoke(args=["outbox", "test", "--sms", "12"])
    assert bad.exit_code != 0 and "invalid phone number" in bad.output


class BuggyProvider:
    def __init__(self, config):
        pass

    def send(self, to_e164: str, text: str) -> None:
        raise RuntimeError(f"unexpected: {text}")


def test_an_unexpected_provider_error_is_stored_without_its_message(make_app):
    app = make_app(SMS_BACKEND="tests.notify.test_sms.BuggyProvider", NOTIFY_ASYNC=False)
    queue_test_sms(app)
    [row] = rows(app)
    assert row.sent_at is None and row.attempts == 1 and row.last_error == "RuntimeError"
