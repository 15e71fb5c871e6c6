"""Registry look-ups for enrolment: match an insured person or a professional, check their codes.

Services never commit; the caller does. Matching functions answer a record or None and never
say which field differed (the caller shows one "no match" message).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import date
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy import select

from idp.enrolment import validators
from idp.extensions import db
from idp.models import utcnow
from idp.registry import legacy
from idp.registry.crypto import confidential_code_hash
from idp.registry.crypto import nir_hash
from idp.registry.csvrows import InvalidImportFile
from idp.registry.importer import ImportReport
from idp.registry.importer import import_csv
from idp.registry.models import InsuredRecord
from idp.registry.models import LetterRequest
from idp.registry.models import ProfessionalRecord

__all__ = [
    "LETTER_KINDS",
    "ImportReport",
    "InvalidImportFile",
    "check_confidential_code",
    "check_legacy_password",
    "children_of",
    "confidential_code_hash",
    "find_insured_by_nir",
    "find_professional",
    "forget_legacy_password",
    "import_csv",
    "mask_nir",
    "match_insured",
    "match_insured_card",
    "new_confidential_code",
    "queue_letter",
]

LETTER_KINDS = frozenset({"confidential_code"})
# A confidential-code letter gives the professional a new code when it is exported, and the
# code of the letter before stops working. Within this time after an export, a new request
# (the professional's own, or anyone's who typed the FINESS: it is public) sends nothing, so
# that the code of a letter still in the post is not replaced before it arrives.
LETTER_INTERVAL = timedelta(days=15)
CONFIDENTIAL_CODE_DIGITS = 12


# --- Insured people ----------------------------------------------------------------------


def mask_nir(nir: str) -> str:
    """ "155125555555542" → "1 55 ** ** *** *** 42": sex, birth year and key only."""
    if len(nir) != 15:
        return "*" * 15
    return f"{nir[0]} {nir[1:3]} ** ** *** *** {nir[13:]}"


def find_insured_by_nir(nir: str) -> InsuredRecord | None:
    """The record of a NIR (spaces allowed), or None when unknown or malformed."""
    try:
        number = validators.nir(nir)
    except ValueError:
        return None
    query = select(InsuredRecord).where(InsuredRecord.nir_hash == nir_hash(number))
    return db.session.scalar(query)


def _same_postcode(typed: str, stored: str) -> bool:
    try:
        return validators.postcode(typed) == stored
    except ValueError:
        return False


def match_insured(
    *, nir: str, family_name: str, birthdate: date, postcode: str
) -> InsuredRecord | None:
    """ameli: NIR, family name (birth or usage, normalised), birthdate and postcode all match."""
    record = find_insured_by_nir(nir)
    if record is None:
        return None
    typed = validators.normalise_name(family_name)
    names = {validators.normalise_name(record.birth_family_name)}
    if record.usage_family_name:
        names.add(validators.normalise_name(record.usage_family_name))
    checks = (
        bool(typed) and typed in names,
        record.birthdate == birthdate,
        _same_postcode(postcode, record.postcode),
    )
    return record if all(checks) else None


def match_insured_card(*, nir: str, card_serial: str, birthdate: date) -> InsuredRecord | None:
    """Mon espace santé: NIR, Carte Vitale serial number and birthdate all match."""
    record = find_insured_by_nir(nir)
    if record is None or not record.card_serial:
        return None
    typed = re.sub(r"[\s.\-]", "", card_serial or "")
    same_card = hmac.compare_digest(typed.encode(), record.card_serial.encode())
    return record if same_card and record.birthdate == birthdate else None


def children_of(record: InsuredRecord) -> list[InsuredRecord]:
    """Children attached to an insured parent, eldest first."""
    query = (
        select(InsuredRecord)
        .where(InsuredRecord.parent_id == record.id)
        .order_by(InsuredRecord.birthdate, InsuredRecord.id)
    )
    return list(db.session.scalars(query))


# --- Professionals -----------------------------------------------------------------------


def find_professional(finess: str) -> ProfessionalRecord | None:
    """The record of a FINESS / N° tiers (spaces allowed), or None when unknown or malformed."""
    try:
        number = validators.finess(finess)
    except ValueError:
        return None
    return db.session.scalar(select(ProfessionalRecord).where(ProfessionalRecord.finess == number))


def check_confidential_code(record: ProfessionalRecord, code: str) -> bool:
    """Whether code is the professional's confidential code."""
    if not record.confidential_code_hash or not (code or "").strip():
        return False
    return hmac.compare_digest(confidential_code_hash(code), record.confidential_code_hash)


def new_confidential_code(record: ProfessionalRecord) -> str:
    """Give the professional a new confidential code (replacing any other); returns it in clear."""
    digits = "".join(secrets.choice("0123456789") for _ in range(CONFIDENTIAL_CODE_DIGITS))
    code = " ".join(digits[i : i + 4] for i in range(0, CONFIDENTIAL_CODE_DIGITS, 4))
    record.confidential_code_hash = confidential_code_hash(code)
    return code


def check_legacy_password(record: ProfessionalRecord, password: str) -> bool:
    """Whether password matches the old site's hash (formats in idp.registry.legacy)."""
    if not record.legacy_password_hash or not password:
        return False
    return legacy.verify(record.legacy_password_hash, password)


def forget_legacy_password(record: ProfessionalRecord) -> None:
    """Drop the old site's hash once it has served (a re-import does not bring it back)."""
    record.legacy_password_hash = None


def queue_letter(record: ProfessionalRecord, kind: str) -> LetterRequest:
    """Queue a letter for the print shop. An identical letter not yet exported, or exported
    less than LETTER_INTERVAL ago, is returned instead (`exported_at` tells which)."""
    if kind not in LETTER_KINDS:
        raise ValueError(f"unknown letter kind {kind!r}")
    exported = LetterRequest.exported_at
    current = db.session.scalar(
        select(LetterRequest)
        .where(
            LetterRequest.professional_id == record.id,
            LetterRequest.kind == kind,
            or_(exported.is_(None), exported > utcnow() - LETTER_INTERVAL),
        )
        .order_by(exported.desc().nulls_first())  # the pending one, else the latest
        .limit(1)
    )
    if current is not None:
        return current
    letter = LetterRequest(professional=record, kind=kind)
    db.session.add(letter)
    db.session.flush()
    return letter
