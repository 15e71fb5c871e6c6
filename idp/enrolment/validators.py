"""Field validators: plain functions that return the normalised value or raise ValueError.

Messages are short French sentences shown under the field, translated when raised (see ``_``)
so that ``str(exc)`` is in the page's language. ``Validator`` adapts any of them to WTForms.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext
from phonenumbers import PhoneNumberFormat
from phonenumbers import PhoneNumberType
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import nir as stdnum_nir
from stdnum.fr import siret as stdnum_siret


def _(message: str, **variables: Any) -> str:
    """gettext at raise time, so that a ValueError carries a plain str.

    In a request: the page's language. Without an app (unit tests): the French source. In an
    app context without a request (CLI, jobs): the default language, as for mails.
    """
    if has_request_context() or not has_app_context():
        return gettext(message, **variables)
    with force_locale(current_app.config.get("DEFAULT_LOCALE", "fr")):
        return gettext(message, **variables)


# --- Phones ------------------------------------------------------------------------------

# Overseas departments have their own region codes in libphonenumber; "0590…" typed in
# Guadeloupe is not a valid metropolitan number.
_FRENCH_REGIONS = ("FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _parse_phone(value: str) -> phonenumbers.PhoneNumber:
    text = (value or "").strip()
    for region in _FRENCH_REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            break
        if phonenumbers.is_valid_number(number):
            if phonenumbers.region_code_for_number(number) in _FRENCH_REGIONS:
                return number
            break
        if text.startswith("+"):
            break
    raise ValueError(_("Numéro de téléphone invalide. Exemple : 06 12 34 56 78."))


def phone(value: str) -> str:
    """A French number ("06 12 34 56 78", "06.12.34.56.78", "+33 6 12…") → E.164."""
    return phonenumbers.format_number(_parse_phone(value), PhoneNumberFormat.E164)


def mobile_phone(value: str) -> str:
    """Like phone(), for a mobile (06/07, or an overseas mobile) that can receive SMS."""
    number = _parse_phone(value)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise ValueError(_("Indiquez un numéro de mobile (06 ou 07)."))
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """ "+33612345678" → "06 12 34 56 78"."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def mask_phone(e164: str) -> str:
    """ "+33612345678" → "06 ** ** ** 78", to say where a code was sent."""
    groups = format_phone(e164).split(" ")
    return " ".join([groups[0], *("*" * len(g) for g in groups[1:-1]), groups[-1]])


# --- Email -------------------------------------------------------------------------------


def email(value: str) -> str:
    """A syntactically valid address (no DNS lookup), lower-cased."""
    try:
        checked = validate_email((value or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(_("Adresse électronique invalide. Exemple : nom@domaine.fr.")) from None
    return checked.normalized.lower()


def mask_email(address: str) -> str:
    """ "marie.dupont@domaine.fr" → "m***@domaine.fr"."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


# --- Dates -------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{2})[/.\- ]?(\d{2})[/.\- ]?(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def past_date(value: str | date, today: date | None = None) -> date:
    """JJ/MM/AAAA (also JJ-MM-AAAA, JJMMAAAA, or the AAAA-MM-JJ of <input type=date>), between
    1900 and today."""
    today = today or date.today()
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        text = (value or "").strip()
        if m := _DATE.fullmatch(text):
            d, mo, y = m.groups()
        elif m := _ISO.fullmatch(text):
            y, mo, d = m.groups()
        else:
            raise ValueError(_("Date invalide : utilisez le format JJ/MM/AAAA."))
        try:
            day = date(int(y), int(mo), int(d))
        except ValueError:
            raise ValueError(_("Cette date n'existe pas.")) from None
    if day > today:
        raise ValueError(_("La date ne peut pas être dans le futur."))
    if day.year < 1900:
        raise ValueError(_("La date ne peut pas être antérieure à 1900."))
    return day


birthdate = past_date


def age(born: date, today: date | None = None) -> int:
    """Age in whole years (a person born on 29 February turns a year older on 1 March)."""
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def parse_iso_date(value: str | date) -> date:
    """A stored AAAA-MM-JJ string back to a date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def format_date(value: str | date) -> str:
    """A date (or AAAA-MM-JJ) as JJ/MM/AAAA."""
    return parse_iso_date(value).strftime("%d/%m/%Y")


# --- Identifiers -------------------------------------------------------------------------


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value or "").upper()


def siret(value: str) -> str:
    """14 digits (spaces allowed), Luhn key (La Poste's establishments: digit sum % 5)."""
    number = _compact(value)
    if not re.fullmatch(r"\d{14}", number):
        raise ValueError(_("Le SIRET comporte 14 chiffres."))
    try:
        return stdnum_siret.validate(number)
    except StdnumError:
        raise ValueError(_("Ce numéro SIRET n'est pas valide : vérifiez-le.")) from None


def rna(value: str) -> str:
    """Association number (RNA): "W" + 9 characters, e.g. W751234567.

    The RNA number has no check digit, so only its shape is checked: W, the department code of
    the registering prefecture (2 characters: digits, 2A/2B in Corsica, a letter for some
    overseas ones) then 7 digits.
    """
    number = _compact(value)
    if not re.fullmatch(r"W\d[0-9A-Z]\d{7}", number):
        raise ValueError(_("Le n° RNA commence par W suivi de 9 caractères (ex : W751234567)."))
    return number


INE_MISSING = "0000"  # typed by an intern without an INE; the caller flags the account
_BEA_KEYS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # 23 letters: no I, O, Q


def _ine_bea_ok(number: str) -> bool:
    return len(set(number[:10])) > 1 and _BEA_KEYS[int(number[:10]) % 23] == number[10]


def _ine_base36_ok(number: str) -> bool:
    head = number[:10]
    if (head.isdigit() and len(set(head)) == 1) or head.isalpha():
        return False
    total = 6 * sum(int(c, 36) for c in head[:9]) + int(head[9], 36)
    return str(total % 10) == number[10]


def ine(value: str) -> str:
    """N° INE (11 characters), or "0000" → INE_MISSING.

    Accepted forms and keys, as universities' Apogée software checks them (ESUP-Portail's
    eCandidat and esup-transferts carry the same code, credited to the University of Rouen;
    no official specification is published):
    - INE-BEA (académie): 10 digits + letter = "ABCDEFGHJKLMNPRSTUVWXYZ"[int(10 digits) % 23].
    - INE-Base 36 (university): 10 characters 0-9/A-Z + digit = last digit of
      6 × (sum of the first 9 characters read in base 36) + the 10th in base 36.
    - INE-RNIE (since 2018): 9 digits + 2 letters among A-H, J, K. Format only: the key is
      computed by the national register and its algorithm is not public (Apogée asks a web
      service).
    - INE-SIFA (apprentices): 4 digits, "A", 5 digits, a letter. Format only, same reason.
    """
    number = _compact(value)
    if number == INE_MISSING:
        return INE_MISSING
    if len(number) != 11:
        raise ValueError(_("Le n° INE comporte 11 caractères (ou saisissez 0000)."))
    if re.fullmatch(r"\d{9}[A-HJK]{2}", number) or re.fullmatch(r"\d{4}A\d{5}[A-HJ-NPR-Z]", number):
        return number
    if re.fullmatch(r"\d{10}[A-HJ-NPR-Z]", number):
        ok = _ine_bea_ok(number)
    elif re.fullmatch(r"[0-9A-Z]{10}\d", number):
        ok = _ine_base36_ok(number)
    else:
        raise ValueError(_("Ce n° INE n'a pas un format connu : vérifiez-le."))
    if not ok:
        raise ValueError(_("Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."))
    return number


def nir(value: str) -> str:
    """N° de sécurité sociale: 15 characters with the key; 2A/2B (Corsica) count as 19/18 for
    the key, which python-stdnum handles. Returns the 15 characters without spaces."""
    number = _compact(value)
    if len(number) != 15:
        raise ValueError(_("Le n° de sécurité sociale comporte 15 caractères, clé comprise."))
    if number[0] not in "123478":
        raise ValueError(_("Le n° de sécurité sociale commence par 1 ou 2."))
    try:
        return stdnum_nir.validate(number)
    except StdnumError:
        raise ValueError(
            _("Ce n° de sécurité sociale n'est pas valide : vérifiez la clé.")
        ) from None


def finess(value: str) -> str:
    """N° FINESS (9 characters, the last a Luhn key); also the "N° tiers" of seed 004.

    Corsican numbers start with 2A/2B; how the key treats those letters is not published (one
    public implementation maps them to 21/22, unconfirmed), so they are checked for shape only.
    """
    number = _compact(value)
    if not re.fullmatch(r"(\d\d|2[AB])\d{7}", number):
        raise ValueError(_("Le n° FINESS comporte 9 chiffres."))
    if number.isdigit() and not luhn.is_valid(number):
        raise ValueError(_("Ce n° FINESS n'est pas valide : vérifiez-le."))
    return number


tiers = finess


def vitale_serial(value: str) -> str:
    """Carte Vitale serial number: 11 digits (seed 002: "Ex : 0102457612 4", counter 0/11).

    Format only: no key algorithm is published; public help pages tell holders of a card whose
    serial shows 10 digits to add a 9, which suggests the 11th digit is no check digit.
    """
    number = _compact(value)
    if not re.fullmatch(r"\d{11}", number):
        raise ValueError(_("Le numéro de série comporte 11 chiffres (ex : 0102457612 4)."))
    return number


# --- Address, civility, names ------------------------------------------------------------


def postcode(value: str) -> str:
    """5 digits: 01000–95999, overseas 97xxx/98xxx; Corsica is 20xxx (2A/2B are department
    codes, not postcodes)."""
    code = _compact(value)
    if re.fullmatch(r"2[AB]\d{3}", code):
        raise ValueError(_("En Corse, le code postal commence par 20 (ex : 20000)."))
    if not re.fullmatch(r"(0[1-9]|[1-8]\d|9[0-578])\d{3}", code):
        raise ValueError(_("Le code postal comporte 5 chiffres (ex : 75001)."))
    return code


_CIVILITIES = {"madame": "Madame", "mme": "Madame", "monsieur": "Monsieur", "m": "Monsieur"}


def civility(value: str) -> str:
    """ "Madame" or "Monsieur" (also mme, m., any case)."""
    found = _CIVILITIES.get((value or "").strip().lower().rstrip("."))
    if found is None:
        raise ValueError(_("Choisissez Madame ou Monsieur."))
    return found


_NAME = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]+)*")


def person_name(value: str) -> str:
    """A name: letters (accents included), spaces, hyphens, apostrophes; 1–100 characters."""
    text = unicodedata.normalize("NFC", value or "").replace("’", "'")
    text = re.sub(r"\s*-\s*", "-", re.sub(r"\s+", " ", text)).strip()
    if not text:
        raise ValueError(_("Ce champ est obligatoire."))
    if len(text) > 100:
        raise ValueError(_("100 caractères au maximum."))
    if not _NAME.fullmatch(text):
        raise ValueError(
            _("Utilisez seulement des lettres, des espaces, des tirets et des apostrophes.")
        )
    return text


def _strip_accents(text: str) -> str:
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise_name(value: str) -> str:
    """For comparisons with a registry: "Éloïse d'Aubigné-Laval" → "ELOISE D AUBIGNE LAVAL"."""
    text = re.sub(r"['’\-]", " ", _strip_accents(value or "")).upper()
    return re.sub(r"\s+", " ", text).strip()


def _slug(value: str) -> str:
    text = re.sub(r"[\s'’]+", "-", _strip_accents(value).strip().lower())
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "", text)).strip("-")


def suggest_username(given: str, family: str, taken: Callable[[str], bool]) -> str:
    """ "prenom.nom" (first given name only, ASCII, lower case), then prenom.nom2, 3… if taken."""
    first = _slug((given or "").strip().split(" ")[0]) if (given or "").strip() else ""
    base = ".".join(p for p in (first, _slug(family or "")) if p)[:60].strip(".-")
    if not base:
        raise ValueError(_("Indiquez votre nom et votre prénom."))
    for candidate in itertools.chain([base], (f"{base}{n}" for n in itertools.count(2))):
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


_USERNAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{1,62}[a-z0-9])")


def username(value: str) -> str:
    """A chosen identifier: 3–64 lower-case letters without accents, digits, . _ -"""
    text = (value or "").strip().lower()
    if not _USERNAME.fullmatch(text) or ".." in text:
        raise ValueError(
            _("De 3 à 64 caractères : lettres sans accent, chiffres, point, tiret ou tiret bas.")
        )
    return text
