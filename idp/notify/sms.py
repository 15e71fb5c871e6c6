"""SMS: named templates rendered into the outbox, sent by a pluggable provider.

IDP_SMS_BACKEND names the provider: a built-in name ("dev") or the dotted path of a
class (`mypackage.sms.OvhProvider` or `mypackage.sms:OvhProvider`). A provider is
built once per app as `cls(app.config)` and implements `SmsProvider.send`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from typing import Protocol

import phonenumbers
from flask import Flask
from flask import current_app
from werkzeug.utils import import_string

from idp.errors import ConfigError
from idp.models import utcnow
from idp.notify import outbox
from idp.notify.mail import smtp_send
from idp.notify.models import OutboxMessage
from idp.notify.outbox import DeliveryError
from idp.notify.rendering import check_template_name
from idp.notify.rendering import render

log = logging.getLogger(__name__)
SMS_MAX_LENGTH = 160


class SmsError(DeliveryError):
    """The provider refused the SMS or could not be reached.

    Its message is stored in the outbox (last_error): never put the text in it.
    """


class SmsProvider(Protocol):
    """Built once per app with `cls(config)`; `send` raises SmsError on failure."""

    def send(self, to_e164: str, text: str) -> None: ...


class DevSmsProvider:
    """Development: each SMS becomes a plain-text mail to sms+<digits>@sms.localhost."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config

    def send(self, to_e164: str, text: str) -> None:
        number = phonenumbers.parse(to_e164)
        email = EmailMessage()
        email["From"] = self.config["MAIL_FROM"]
        email["To"] = f"sms+{to_e164.lstrip('+')}@sms.localhost"
        email["Subject"] = "SMS pour " + phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        email["Date"] = format_datetime(utcnow())
        email.set_content(text, charset="utf-8", cte="quoted-printable")
        try:
            smtp_send(email, self.config)
        except OSError as exc:
            raise SmsError(f"SMTP: {outbox.describe_error(exc)}") from exc


# Built-in providers by name; a real one is added here, or named by its dotted path.
BACKENDS: dict[str, type] = {"dev": DevSmsProvider}


def load_provider(config: Mapping[str, Any]) -> SmsProvider:
    """The provider named by SMS_BACKEND (fails at start-up on an unknown one)."""
    name = config["SMS_BACKEND"]
    if "." in name or ":" in name:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ConfigError(f"IDP_SMS_BACKEND introuvable : {name}") from exc
    elif name in BACKENDS:
        cls = BACKENDS[name]
    else:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"IDP_SMS_BACKEND inconnu : {name} (connus : {known}, ou module.Classe)")
    return cls(config)


def init_app(app: Flask) -> None:
    app.extensions["idp_sms"] = load_provider(app.config)


def provider() -> SmsProvider:
    return current_app.extensions["idp_sms"]


def to_e164(number: str) -> str:
    """A French or international number as E.164 (+33612345678); ValueError if invalid."""
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("invalid phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("invalid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def render_sms(template: str, **context: Any) -> str:
    """The text of templates/sms/<template>.txt, without surrounding blank space."""
    check_template_name(template)
    return render(f"sms/{template}.txt", context).strip()


def send_sms(template: str, to: str, **context: Any) -> OutboxMessage:
    """Render an SMS and queue it in the current transaction (the caller commits)."""
    number = to_e164(to)
    text = render_sms(template, **context)
    if len(text) > SMS_MAX_LENGTH:
        # Still sent (as several SMS): shorten the template.
        log.warning("SMS template %r rendered %d characters", template, len(text))
    return outbox.enqueue("sms", number, template, body_text=text)


def transmit(message: OutboxMessage) -> None:
    """The outbox transport of the "sms" channel."""
    provider().send(message.recipient, message.body_text or "")
