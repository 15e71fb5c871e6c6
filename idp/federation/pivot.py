"""The pivot identity (identité pivot): normalising and comparing it with local accounts.

A local account matches an upstream identity when its birth name, first names, birthdate
and gender agree once normalised (case, accents, hyphens, apostrophes, several first
names). Local accounts hold no birthplace or birth country, so those cannot be compared
here; the match must be unique and the person must then prove the account is theirs.
The email is never part of a match (shared within families, see FRANCECONNECT.md).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from idp.extensions import db
from idp.models import Account

# Letters NFKD leaves whole.
_LIGATURES = str.maketrans({"Œ": "OE", "Æ": "AE", "ß": "SS", "Ø": "O", "Ł": "L", "Đ": "D"})
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`´.,]+")
# Local civility → the gender FranceConnect would give.
_CIVILITY_GENDER = {"madame": "female", "mme": "female", "monsieur": "male", "m": "male"}
# Account fields FranceConnect certifies (checked against the civil registry).
CERTIFIED_FIELDS = ("family_name", "given_name", "birthdate", "gender")


def normalise_name(value: str | None) -> str:
    """'Jean-Éric d’Ornano' → 'JEAN ERIC D ORNANO'."""
    if not value:
        return ""
    upper = value.upper().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", upper)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(part for part in _SEPARATORS.split(bare) if part)


def given_names_match(local: str | None, upstream: str | None) -> bool:
    """All first names, or only the first one (people often type just that)."""
    mine = normalise_name(local)
    names = (upstream or "").split()
    if not mine or not names:
        return False
    return mine in {normalise_name(upstream), normalise_name(names[0])}


def parse_birthdate(value: Any) -> dt.date | None:
    """FranceConnect's YYYY-MM-DD (presumed dates already come as -01)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def local_gender(account: Account) -> str | None:
    if account.gender in ("male", "female"):
        return account.gender
    return _CIVILITY_GENDER.get((account.civility or "").strip().lower())


def matches(account: Account, claims: dict[str, Any]) -> bool:
    """The account's identity is the upstream one (as far as the account knows it)."""
    if account.birthdate is None or account.birthdate != parse_birthdate(claims.get("birthdate")):
        return False
    family = normalise_name(claims.get("family_name"))
    if not family or normalise_name(account.family_name) != family:
        return False
    if not given_names_match(account.given_name, claims.get("given_name")):
        return False
    # A gender the account states must agree; FC's "unspecified" agrees with nothing stated.
    mine = local_gender(account)
    return mine is None or mine == claims.get("gender")


def differences(account: Account, claims: dict[str, Any]) -> list[str]:
    """The identity fields the account states and the upstream identity contradicts
    (family_name, given_name, birthdate, gender); a field the account leaves empty is
    not a difference (linking fills it in)."""
    found = []
    if account.family_name and normalise_name(account.family_name) != normalise_name(
        claims.get("family_name")
    ):
        found.append("family_name")
    if account.given_name and not given_names_match(account.given_name, claims.get("given_name")):
        found.append("given_name")
    # An upstream that certifies no birthdate or gender (Pro Santé Connect) contradicts
    # neither.
    if (
        account.birthdate is not None
        and claims.get("birthdate") is not None
        and account.birthdate != parse_birthdate(claims.get("birthdate"))
    ):
        found.append("birthdate")
    mine = local_gender(account)
    if mine is not None and claims.get("gender") is not None and mine != claims.get("gender"):
        found.append("gender")
    return found


def candidates(claims: dict[str, Any], exclude: Iterable[int] = ()) -> list[Account]:
    """Active accounts whose identity matches the upstream one (0, 1 or more)."""
    born = parse_birthdate(claims.get("birthdate"))
    if born is None:
        return []
    excluded = set(exclude)
    rows = db.session.scalars(
        select(Account).where(Account.birthdate == born, Account.status == "active")
    )
    return [a for a in rows if a.id not in excluded and matches(a, claims)]


def certified_values(claims: dict[str, Any]) -> dict[str, Any]:
    """The account fields the upstream identity certifies, in the account's format."""
    gender = claims.get("gender")
    return {
        "family_name": (claims.get("family_name") or "").strip() or None,
        "given_name": (claims.get("given_name") or "").strip() or None,
        "birthdate": parse_birthdate(claims.get("birthdate")),
        "gender": gender if gender in ("male", "female") else None,
    }
