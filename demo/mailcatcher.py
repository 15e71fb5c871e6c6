"""In-memory SMTP server for the demo, with a small web inbox.

The provider sends its mails (verification codes, notifications) to this
server instead of a real one; they can then be read at ``/mails/`` or, as
JSON, at ``/mails/api``.
"""

from __future__ import annotations

import email.policy
import threading
import typing as t
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session
from flask import Blueprint
from flask import abort
from flask import jsonify
from flask import render_template
from flask.typing import ResponseReturnValue

#: A received message. ``to`` holds the envelope recipients, bare addresses.
CaughtMail = t.TypedDict(
    "CaughtMail",
    {
        "id": int,
        "from": str,
        "to": list[str],
        "subject": str,
        "date": str,
        "text": str,
        "html": str,
    },
)


class MailCatcher:
    """An SMTP server, run in a thread, keeping every message it receives."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._messages: list[CaughtMail] = []
        self._controller = Controller(self, hostname=host, port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[CaughtMail]:
        """The received messages, oldest first; a message's id is its index."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """aiosmtpd hook, called for each message."""
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        self._add(raw, mail_from, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def _add(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
        message = t.cast(EmailMessage, BytesParser(policy=email.policy.default).parsebytes(raw))
        with self._lock:
            self._messages.append(
                {
                    "id": len(self._messages),
                    "from": str(message["From"] or mail_from),
                    "to": rcpt_tos,
                    "subject": str(message["Subject"] or ""),
                    "date": str(message["Date"] or datetime.now().astimezone().isoformat()),
                    "text": _body(message, "plain"),
                    "html": _body(message, "html"),
                }
            )


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):  # unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n")


def catcher_blueprint(catcher: MailCatcher) -> Blueprint:
    """A web inbox for ``catcher``, mounted at ``/mails/``."""
    bp = Blueprint("mailcatcher", __name__, url_prefix="/mails", template_folder="templates")

    @bp.get("/")
    def inbox() -> ResponseReturnValue:
        return render_template("demo/mails/list.html", messages=catcher.messages[::-1])

    @bp.get("/<int:i>")
    def message(i: int) -> ResponseReturnValue:
        messages = catcher.messages
        if i >= len(messages):
            abort(404)
        return render_template("demo/mails/detail.html", message=messages[i])

    @bp.get("/api")
    def api() -> ResponseReturnValue:
        return jsonify(catcher.messages[::-1])

    return bp
