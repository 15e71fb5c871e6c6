"""A real SMTP server (aiosmtpd) that keeps what it receives.

Other test folders use it with `from tests.smtp import smtp_server  # noqa: F401`.
"""

from __future__ import annotations

import email
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the text/<subtype> part."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, subtype
        return body.get_content()


class _Handler:
    def __init__(self, received: list[Received], refused: set[str]):
        self.received = received
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; stop() and start() again on the same port simulate an outage."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[Received] = []
        # Addresses refused at RCPT TO with a 550 (an address that does not exist).
        self.refused: set[str] = set()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(
            _Handler(self.messages, self.refused), hostname="127.0.0.1", port=self.port
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait(self, count: int = 1, timeout: float = 20) -> list[Received]:
        """The messages received, once there are at least `count` of them (at once when
        they are there: the timeout only bounds a loaded machine's wait, never a test's)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} mails received, {count} expected")
            time.sleep(0.02)
        return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


@pytest.fixture
def smtp_server():
    """A running SMTP server; `smtp_server.port`, `.messages`, `.wait()`, `.stop()`."""
    server = SmtpServer().start()
    yield server
    server.stop()
