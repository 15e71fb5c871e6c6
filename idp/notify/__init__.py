"""Mail and SMS notifications through a durable outbox.

    message = notify.send_mail("activation", to=email, link=url, portal_name=client.name)
    db.session.commit()
    notify.dispatch_after_commit()

See idp/notify/README.md for adding a template.
"""

from flask import Flask

from idp.notify import sms
from idp.notify.cli import outbox_cli
from idp.notify.mail import send_mail
from idp.notify.models import OutboxMessage
from idp.notify.outbox import dispatch_after_commit
from idp.notify.outbox import purge_sent
from idp.notify.outbox import run_pending
from idp.notify.sms import send_sms

__all__ = [
    "OutboxMessage",
    "dispatch_after_commit",
    "init_app",
    "purge_sent",
    "run_pending",
    "send_mail",
    "send_sms",
]


def init_app(app: Flask) -> None:
    """Build the SMS provider named by SMS_BACKEND and register `idp outbox`."""
    sms.init_app(app)
    app.cli.add_command(outbox_cli)
