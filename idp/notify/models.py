"""The durable outbox: one row per mail or SMS, queued in the caller's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.models import Base
from idp.models import utcnow

CHANNELS = ("mail", "sms")


class OutboxMessage(Base):
    """A rendered mail or SMS waiting to be sent; its content is wiped once sent."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    # An email address, or a phone number in E.164 for an SMS.
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(64))
    # Rendered content: may hold activation links or codes, so set to None once sent.
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # Indexed: "sent_at IS NULL" finds the few unsent rows among the many sent ones.
    sent_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def wipe_content(self) -> None:
        """Forget what was sent (links, codes); keep who, which template and when."""
        self.subject = None
        self.body_text = None
        self.body_html = None
