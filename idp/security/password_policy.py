"""Password policies as data: checked here, mirrored live in the browser by static/password.js.

A portal names its policy (``POLICIES`` key); ``check_password`` returns every broken rule as a
short message. Strength is zxcvbn's 0–4 score, the same library the browser runs.

Messages and labels are French source strings, translated when they are built (see ``_``): in
a request, in the page's language; without an app (unit tests), in French.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import Any

from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext
from flask_babel.speaklater import LazyString
from wtforms.validators import ValidationError


def _(message: str, **variables: Any) -> str:
    """gettext, safe everywhere: the page's language in a request, the French source without an
    app (unit tests), the default language in an app context without a request (CLI, jobs)."""
    if has_request_context() or not has_app_context():
        return gettext(message, **variables)
    with force_locale(current_app.config.get("DEFAULT_LOCALE", "fr")):
        return gettext(message, **variables)


def _l(message: str, **variables: Any) -> LazyString:
    """``_`` deferred to the moment the string is used (module-level constants)."""
    return LazyString(_, message, **variables)


# Lazy: each str() gives the label in the current language.
STRENGTH_LABELS = (_l("Très faible"), _l("Faible"), _l("Moyen"), _l("Fort"), _l("Très fort"))
# zxcvbn 4.5 (Python) refuses longer input, and its cost grows fast with length: both sides
# estimate on the first 72 characters (static/password.js truncates the same way).
ZXCVBN_MAX_LENGTH = 72
DEFAULT_MAX_LENGTH = 128

# Seed 003 (ameli): latin letters without accents, digits and these special characters
# (ASCII punctuation minus the double quote, the backquote and the backslash; no space):
#   ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ _ { | } ~
# Written so that the same class compiles in Python and in JavaScript.
AMELI_ALLOWED = r"[A-Za-z0-9!#$%&'()*+,\-./:;<=>?@\[\]^_{|}~]"


def _common() -> dict[str, int]:
    # zxcvbn (≈ 12 MB of word lists) is imported on first use, not in every web worker.
    from zxcvbn.matching import RANKED_DICTIONARIES

    return RANKED_DICTIONARIES["passwords"]


_NAME_SPLIT = re.compile(r"[\s'’\-]+")
_IDENT_SPLIT = re.compile(r"[._\-+@]+")
_NIR_LIKE = re.compile(r"[1-478]\d{4}(?:\d\d|2[ab])\d{6}(?:\d\d)?")


@dataclass
class PersonalInfo:
    """What a password must not contain: names, birthdate, identifiers (NIR, INE, username…)."""

    names: list[str] = field(default_factory=list)
    birthdate: date | None = None
    identifiers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PasswordPolicy:
    name: str
    min_length: int = 12
    max_length: int = DEFAULT_MAX_LENGTH
    require_upper: bool = False
    require_lower: bool = False
    require_digit: bool = False
    require_special: bool = False
    require_digit_or_special: bool = False
    allowed_chars: str | None = None  # a regex character class; None = any printable
    min_strength: int = 0  # zxcvbn score, 0–4 (2 = "Moyen"); 0 = indicative meter only
    forbid_personal: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(f"{self.name}: bad length bounds")
        if not 0 <= self.min_strength <= 4:
            raise ValueError(f"{self.name}: min_strength must be 0–4")
        if self.allowed_chars is not None:
            re.compile(self.allowed_chars)

    def rules(self) -> list[tuple[str, str]]:
        """(key, label) of each rule, in the order of the page's checklist."""
        out = []
        if self.max_length < DEFAULT_MAX_LENGTH:
            length = _(
                "Entre %(min)d et %(max)d caractères", min=self.min_length, max=self.max_length
            )
        else:
            length = _("%(min)d caractères minimum", min=self.min_length)
        out.append(("length", length))
        if self.require_upper:
            out.append(("upper", _("1 majuscule")))
        if self.require_lower:
            out.append(("lower", _("1 minuscule")))
        if self.require_digit:
            out.append(("digit", _("1 chiffre")))
        if self.require_special:
            out.append(("special", _("1 caractère spécial (!#@%&…)")))
        if self.require_digit_or_special:
            out.append(("digit_or_special", _("1 chiffre ou 1 caractère spécial")))
        if self.allowed_chars:
            label = _(
                "Lettres sans accent, chiffres et %(specials)s", specials=self.allowed_specials()
            )
            out.append(("allowed", label))
        if self.forbid_personal:
            label = _("Ni nom, ni date de naissance, ni identifiant (même en partie)")
            out.append(("personal", label))
        if self.min_strength:
            label = _('Le niveau "%(level)s"', level=str(STRENGTH_LABELS[self.min_strength]))
            out.append(("strength", label))
        return out

    def allowed_specials(self) -> str:
        """The special characters that allowed_chars lets through, for the label."""
        if not self.allowed_chars:
            return ""
        allowed = re.compile(self.allowed_chars)
        return "".join(c for c in string.punctuation if allowed.fullmatch(c))

    def as_json(self) -> str:
        """The policy for static/password.js (data-password-policy attribute)."""
        data: dict[str, Any] = asdict(self)
        data["rules"] = self.rules()
        data["strength_labels"] = [str(label) for label in STRENGTH_LABELS]
        data["zxcvbn_max_length"] = ZXCVBN_MAX_LENGTH
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


POLICIES: dict[str, PasswordPolicy] = {
    p.name: p
    for p in (
        PasswordPolicy("default", 12, min_strength=3, forbid_personal=True),
        # Seed 001: "8 caractères, 1 Majuscule, 1 chiffre", at least the level "Moyen".
        # Every policy also refuses the person's names, birthdate and identifiers.
        PasswordPolicy(
            "citoyen",
            8,
            require_upper=True,
            require_digit=True,
            min_strength=2,
            forbid_personal=True,
        ),
        # Seed 000 states no rule.
        PasswordPolicy(
            "ars-interne",
            10,
            require_upper=True,
            require_lower=True,
            require_digit=True,
            min_strength=2,
            forbid_personal=True,
        ),
        # Seed 003: 8–50, latin lower and upper case, a digit or a special character, only
        # allowed characters, not the NIR nor the birthdate nor a part of them. The meter
        # there is "indicatif": no minimum level.
        PasswordPolicy(
            "ameli",
            8,
            50,
            require_upper=True,
            require_lower=True,
            require_digit_or_special=True,
            allowed_chars=AMELI_ALLOWED,
            forbid_personal=True,
        ),
        # Seed 002: 9 minimum, 1 special, 1 upper, 1 lower, 1 digit ("robuste" is advice).
        PasswordPolicy(
            "mon-espace-sante",
            9,
            require_upper=True,
            require_lower=True,
            require_digit=True,
            require_special=True,
            forbid_personal=True,
        ),
        # Seed 004 states no rule: same floor as ars-interne.
        PasswordPolicy(
            "pro-sante",
            10,
            require_upper=True,
            require_lower=True,
            require_digit=True,
            min_strength=2,
            forbid_personal=True,
        ),
    )
}


def get_policy(name: str | None) -> PasswordPolicy:
    """The named policy (KeyError if unknown); None means "default"."""
    return POLICIES[name or "default"]


def fold(text: str) -> str:
    """Lower case without accents, for case- and accent-insensitive comparisons."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def date_forms(day: date) -> set[str]:
    """A birthdate as people type it: JJMMAAAA, AAAAMMJJ, JJMMAA, AAAA, JJ/MM/AAAA…"""
    d, m, y = f"{day.day:02d}", f"{day.month:02d}", f"{day.year:04d}"
    yy = y[2:]
    forms = {y, d + m + y, y + m + d, d + m + yy, yy + m + d, m + d + y, m + y}
    for sep in "/-. ":
        forms |= {sep.join((d, m, y)), sep.join((y, m, d)), sep.join((d, m, yy))}
        forms.add(sep.join((str(day.day), str(day.month), y)))
    return forms


def _compact(identifier: str) -> str:
    # Spaces always go; dots only in numbers ("2.95.10…"), not in "jean.dupont".
    text = re.sub(r"\s", "", fold(identifier))
    return text.replace(".", "") if _is_numeric(text.replace(".", "")) else text


def _is_numeric(compact: str) -> bool:
    # NIR (2A/2B for Corsica), INE, FINESS, SIRET: 9+ characters, at most two letters.
    # (static/password.js applies the same test to data-user-inputs.)
    return len(compact) >= 9 and sum(c.isdigit() for c in compact) >= len(compact) - 2


def personal_inputs(personal: PersonalInfo | None) -> list[str]:
    """The person's values as zxcvbn user inputs (and data-user-inputs for the browser)."""
    if personal is None:
        return []
    values = [p for n in personal.names for p in _NAME_SPLIT.split(fold(n)) if len(p) >= 3]
    if personal.birthdate:
        b = personal.birthdate
        values += [f"{b.day:02d}{b.month:02d}{b.year}", f"{b.year}"]
    for ident in personal.identifiers:
        compact = _compact(ident)
        if len(compact) >= 3:
            values.append(compact)
            values += [p for p in _IDENT_SPLIT.split(compact) if len(p) >= 3 and p != compact]
    return list(dict.fromkeys(values))


def _personal_errors(password: str, personal: PersonalInfo) -> list[str]:
    folded = fold(password)
    squeezed = re.sub(r"[\s.\-]", "", folded)
    errors = []
    parts = {p for n in personal.names for p in _NAME_SPLIT.split(fold(n))}
    if any(sum(c.isalpha() for c in p) >= 3 and p in folded for p in parts):
        errors.append(_("Le mot de passe ne doit pas contenir votre nom ou prénom."))
    if personal.birthdate and any(f in password for f in date_forms(personal.birthdate)):
        errors.append(_("Le mot de passe ne doit pas contenir votre date de naissance."))
    for ident in personal.identifiers:
        compact = _compact(ident)
        if len(compact) < 3:
            continue
        if _is_numeric(compact):
            windows = {compact[i : i + 4] for i in range(len(compact) - 3)}
            hit = any(w in folded or w in squeezed for w in windows)
        else:
            # "marie.dupont": its pieces are names, already reported as such.
            pieces = [p for p in _IDENT_SPLIT.split(compact) if len(p) >= 4 and p not in parts]
            hit = compact in folded or any(p in folded for p in pieces)
        if hit:
            if _NIR_LIKE.fullmatch(compact):
                message = _(
                    "Le mot de passe ne doit pas contenir votre n° de sécurité sociale "
                    "ni une partie de celui-ci."
                )
            else:
                message = _(
                    "Le mot de passe ne doit pas contenir votre identifiant "
                    "ni une partie de celui-ci."
                )
            errors.append(message)
            break
    return errors


def _estimate(password: str, user_inputs: Iterable[str]) -> dict[str, Any]:
    from zxcvbn import zxcvbn

    return zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[str(u) for u in user_inputs])


def strength(password: str, user_inputs: Iterable[str] = ()) -> int:
    """zxcvbn's score, 0 ("Très faible") to 4 ("Très fort")."""
    return int(_estimate(password, user_inputs)["score"]) if password else 0


def is_common(password: str, estimate: dict[str, Any] | None = None) -> bool:
    """A known (breached) password, whole or followed by a run of digits/symbols."""
    if len(password) > DEFAULT_MAX_LENGTH:
        return False
    estimate = estimate or _estimate(password, ())
    stem = len(password)
    while stem and not password[stem - 1].isalpha():  # the trailing digits/symbols
        stem -= 1
    ends = {end for end in range(stem, len(password) + 1) if end >= 3}
    for end in ends:
        if password[:end].lower() in _common():
            return True
    return any(
        m["pattern"] == "dictionary"
        and m.get("dictionary_name") == "passwords"
        and m["i"] == 0
        and m["j"] + 1 in ends
        for m in estimate["sequence"]
    )


def check_password(
    policy: PasswordPolicy, password: str, personal: PersonalInfo | None = None
) -> list[str]:
    """Every rule the password breaks, as short messages (empty list: accepted)."""
    password = password or ""
    errors = []
    if len(password) < policy.min_length:
        errors.append(_("Saisissez au moins %(num)d caractères.", num=policy.min_length))
    if len(password) > policy.max_length:
        # Nothing more is computed on an oversized input (a megabyte POST costs nothing).
        return [_("Saisissez au plus %(num)d caractères.", num=policy.max_length)]
    has_digit = any(c in string.digits for c in password)
    has_special = any(not c.isalnum() for c in password)
    if policy.require_upper and not any(c.isupper() for c in password):
        errors.append(_("Ajoutez au moins 1 majuscule."))
    if policy.require_lower and not any(c.islower() for c in password):
        errors.append(_("Ajoutez au moins 1 minuscule."))
    if policy.require_digit and not has_digit:
        errors.append(_("Ajoutez au moins 1 chiffre."))
    if policy.require_special and not has_special:
        errors.append(_("Ajoutez au moins 1 caractère spécial (!#@%&…)."))
    if policy.require_digit_or_special and not (has_digit or has_special):
        errors.append(_("Ajoutez au moins 1 chiffre ou 1 caractère spécial."))
    allowed = re.compile(policy.allowed_chars) if policy.allowed_chars else None
    bad = [c for c in password if (not allowed.fullmatch(c) if allowed else not c.isprintable())]
    if bad:
        # Translators: the name of the space character, in a list of refused characters.
        space = _("espace")
        shown = ", ".join(dict.fromkeys(space if c == " " else c for c in bad))
        errors.append(_("Caractères non autorisés : %(chars)s.", chars=shown))
    if policy.forbid_personal and personal is not None:
        errors += _personal_errors(password, personal)
    if not password:
        return errors
    estimate = _estimate(password, personal_inputs(personal))
    if is_common(password, estimate):
        errors.append(_("Ce mot de passe est trop courant. Choisissez-en un autre."))
    score = int(estimate["score"])
    if score < policy.min_strength:
        errors.append(
            _(
                'Niveau de sécurité "%(level)s" : il faut au moins "%(required)s". '
                "Allongez-le ou ajoutez des mots peu courants.",
                level=str(STRENGTH_LABELS[score]),
                required=str(STRENGTH_LABELS[policy.min_strength]),
            )
        )
    return errors


Getter = Callable[[Any], Any]


class PolicyValidator:
    """WTForms validator; the getters take the form, so a journey picks policy and person late.

    ``policy_getter`` may return a PasswordPolicy or a policy name.
    """

    def __init__(
        self,
        policy_getter: Getter,
        personal_getter: Getter | None = None,
        all_messages: bool = False,
    ) -> None:
        self.policy_getter = policy_getter
        self.personal_getter = personal_getter
        self.all_messages = all_messages

    def __call__(self, form: Any, field: Any) -> None:
        policy = self.policy_getter(form)
        if not isinstance(policy, PasswordPolicy):
            policy = get_policy(policy)
        personal = self.personal_getter(form) if self.personal_getter else None
        errors = check_password(policy, field.data or "", personal)
        if errors:
            raise ValidationError(" ".join(errors) if self.all_messages else errors[0])
