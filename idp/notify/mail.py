"""Mail: named templates rendered into the outbox, then sent over SMTP.

`send_mail("activation", to, link=…)` renders templates/mail/activation/subject.txt,
body.txt and body.html (see idp/notify/README.md) into an OutboxMessage of the current
transaction; the caller commits, then calls `dispatch_after_commit()`.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import parseaddr
from typing import Any

from flask import current_app

from idp.notify import outbox
from idp.notify.models import OutboxMessage
from idp.notify.rendering import check_template_name
from idp.notify.rendering import render


def check_address(address: str) -> str:
    """A single address, safe in a header; callers validate it for real (forms)."""
    address = address.strip()
    if (
        not address
        or len(address) > 254
        or "@" not in address
        or any(c in address for c in "\r\n,;<>")
    ):
        raise ValueError("invalid email address")
    return address


def render_mail(template: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text body, html body) of templates/mail/<template>/."""
    check_template_name(template)
    folder = f"mail/{template}"
    subject = " ".join(render(f"{folder}/subject.txt", context).split())
    return subject, render(f"{folder}/body.txt", context), render(f"{folder}/body.html", context)


def send_mail(template: str, to: str, **context: Any) -> OutboxMessage:
    """Render a mail and queue it in the current transaction (the caller commits)."""
    address = check_address(to)
    subject, text, html = render_mail(template, **context)
    return outbox.enqueue(
        "mail", address, template, subject=subject, body_text=text, body_html=html
    )


def sender_domain(config: Mapping[str, Any]) -> str:
    return parseaddr(config["MAIL_FROM"])[1].rpartition("@")[2] or "idp.localhost"


def message_id(message: OutboxMessage, config: Mapping[str, Any]) -> str:
    """Stable across retries (receivers drop duplicates), reveals no row count."""
    key = config["SECRET_KEY"].encode()
    seed = f"outbox:{message.id}:{message.created_at.isoformat()}".encode()
    digest = hmac.new(key, seed, hashlib.sha256).hexdigest()[:32]
    return f"<{digest}@{sender_domain(config)}>"


def build_email(message: OutboxMessage) -> EmailMessage:
    """The MIME message: text/plain and text/html alternatives, UTF-8."""
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject or ""
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id(message, config)
    # RFC 3834: no vacation auto-replies to a no-reply sender.
    email["Auto-Submitted"] = "auto-generated"
    # Quoted-printable: 7-bit safe for any relay, still readable, long links soft-wrapped.
    email.set_content(message.body_text or "", charset="utf-8", cte="quoted-printable")
    if message.body_html:
        email.add_alternative(
            message.body_html, subtype="html", charset="utf-8", cte="quoted-printable"
        )
    return email


def smtp_send(email: EmailMessage, config: Mapping[str, Any]) -> None:
    """Hand one message to the SMTP server (raises OSError / smtplib.SMTPException)."""
    with smtplib.SMTP(
        config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]
    ) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(email)


def transmit(message: OutboxMessage) -> None:
    """The outbox transport of the "mail" channel."""
    smtp_send(build_email(message), current_app.config)


def deliver(message: OutboxMessage, *, ignore_schedule: bool = False) -> bool | None:
    """One attempt at a committed mail: True sent, False failed (recorded), None not due."""
    return outbox.deliver(message, ignore_schedule=ignore_schedule)
