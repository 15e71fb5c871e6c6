"""Console roles: who may use the admin and helpdesk console."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.models import Base
from idp.models import utcnow


class AccountRole(Base):
    """A role held by an account: `admin` (everything) or `helpdesk` (people only)."""

    __tablename__ = "account_role"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The operator who granted it; None from the command line or the API.
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
