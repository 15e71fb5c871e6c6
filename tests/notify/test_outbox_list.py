"""`idp outbox list` and the masks that keep recipients out of terminals and logs."""

from __future__ import annotations

import logging

from idp import notify
from idp.extensions import db
from idp.notify.masking import mask_email
from idp.notify.masking import mask_phone
from tests.conftest import free_port


def test_masks():
    assert mask_email("marie.curie@example.fr") == "m***@example.fr"
    assert mask_email("nobody") == "***"
    assert mask_phone("+33612345678") == "+33 6 ** ** ** 78"
    assert mask_phone("+447911123456") == "+44 7*******56"
    assert mask_phone("garbage") == "***"


def test_outbox_list_counts_and_masks_recipients(make_app, caplog):
    app = make_app(SMTP_PORT=free_port(), NOTIFY_ASYNC=False)
    caplog.set_level(logging.INFO, logger="idp.notify")
    with app.app_context():
        notify.send_mail("test", to="marie.curie@example.fr")
        notify.send_sms("test", to="06 12 34 56 78")
        db.session.commit()
        notify.dispatch_after_commit()
    result = app.test_cli_runner().invoke(args=["outbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "pending=2 failed=0 sent=0"
    assert "\tpending\tmail\ttest\tm***@example.fr\tattempts=1\t" in lines[1]
    assert "ConnectionRefusedError" in lines[1]
    assert "\tpending\tsms\ttest\t+33 6 ** ** ** 78\tattempts=1\t" in lines[2]
    assert "marie.curie" not in result.output and "12 34 56" not in result.output
    # Logs name the template and the masked recipient, never the content or the address.
    assert "marie.curie" not in caplog.text and "Message de test" not in caplog.text
    assert "m***@example.fr" in caplog.text
