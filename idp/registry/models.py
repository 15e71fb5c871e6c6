"""Registry records: insured people (NIR encrypted, found by keyed hash), professionals, letters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from idp.models import Base
from idp.models import utcnow


class InsuredRecord(Base):
    """An insured person as the health insurance knows them (ameli, Mon espace santé).

    The NIR is never stored in clear: `nir_hash` (keyed HMAC) finds the record, `nir_encrypted`
    (Fernet, keys in the keys directory) gives it back when needed.
    """

    __tablename__ = "registry_insured"

    id: Mapped[int] = mapped_column(primary_key=True)
    nir_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nir_encrypted: Mapped[str] = mapped_column(Text)
    # Carte Vitale serial number (11 digits today).
    card_serial: Mapped[str | None] = mapped_column(String(16))
    birth_family_name: Mapped[str] = mapped_column(String(200))
    usage_family_name: Mapped[str | None] = mapped_column(String(200))
    given_names: Mapped[str] = mapped_column(String(200))
    birthdate: Mapped[dt.date]
    postcode: Mapped[str] = mapped_column(String(5))
    # Contact on record, where Mon espace santé sends the provisional code.
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(32))
    # A child is attached to the insured parent who may activate its space (one level only).
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_insured.id", ondelete="SET NULL"), index=True
    )
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[InsuredRecord | None] = relationship(remote_side=[id])

    def nir(self) -> str:
        """The NIR in clear (decrypted); never log it."""
        from idp.registry.crypto import decrypt

        return decrypt(self.nir_encrypted)

    def __repr__(self) -> str:  # no NIR, not even its hash
        return f"<InsuredRecord {self.id}>"


class ProfessionalRecord(Base):
    """A health professional known by FINESS / N° tiers (seed 004)."""

    __tablename__ = "registry_professional"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    birth_family_name: Mapped[str] = mapped_column(String(200))
    given_names: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    # "Numéro confidentiel" sent by post: keyed hash only.
    confidential_code_hash: Mapped[str | None] = mapped_column(String(64))
    # The old site's password hash as exported (see legacy.py); cleared after its first use.
    legacy_password_hash: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(150))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<ProfessionalRecord {self.finess}>"


class LetterRequest(Base):
    """A postal letter queued for the print shop (`idp letters export`)."""

    __tablename__ = "registry_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    professional_id: Mapped[int] = mapped_column(
        ForeignKey("registry_professional.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    professional: Mapped[ProfessionalRecord] = relationship()
