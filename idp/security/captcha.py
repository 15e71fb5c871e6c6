"""A CAPTCHA without any third-party service: distorted text, or a question in words.

Two forms of the same check, the person picks one:
- "image": characters to copy from an SVG drawn here (captcha_image.py);
- "question": "Combien font trois plus quatre ?", answered in digits or in words — the
  accessible alternative, read by a screen reader like any text.

A challenge is a row of the `verification` table (purpose "captcha"), not a value in the
session cookie. Flask's session is signed, not encrypted, so it could only hold a keyed hash of
the answer, and single use would still need a server-side list of used nonces; the row gives
both at once: the form carries a random nonce (256 bits, stored as SHA-256), the row keeps a
keyed hash of the expected answer bound to that nonce, the expiry (10 minutes), and `used_at`.
A challenge is consumed by its first check, right or wrong, with a conditional UPDATE, so two
concurrent posts of the same nonce cannot both pass and a wrong guess cannot be retried.
Expired rows are deleted as new challenges are issued. Services never commit: the caller does,
whatever the outcome, so that a failed check still burns its challenge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.models import utcnow
from idp.security import captcha_image
from idp.security import tokens
from idp.security.password_policy import fold
from idp.security.verification import Verification

PURPOSE = "captcha"
LIFETIME = dt.timedelta(minutes=10)
MODES = ("image", "question")
TEXT_LENGTH = 5

# Displayed in the question (lazy: in the page's language); 0–20 covers every sum.
NUMBER_WORDS = (
    _l("zéro"), _l("un"), _l("deux"), _l("trois"), _l("quatre"), _l("cinq"), _l("six"),
    _l("sept"), _l("huit"), _l("neuf"), _l("dix"), _l("onze"), _l("douze"), _l("treize"),
    _l("quatorze"), _l("quinze"), _l("seize"), _l("dix-sept"), _l("dix-huit"), _l("dix-neuf"),
    _l("vingt"),
)  # fmt: skip
# Accepted whatever the page's language (someone may answer in French on an English page).
_FRENCH_WORDS = (
    "zero", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
    "onze", "douze", "treize", "quatorze", "quinze", "seize", "dixsept", "dixhuit", "dixneuf",
    "vingt",
)  # fmt: skip


@dataclass(frozen=True)
class Challenge:
    nonce: str
    mode: str
    # image: the SVG document; question: the two numbers to add.
    svg: str | None = None
    terms: tuple[int, int] | None = None


class CaptchaRejected(Exception):
    """missing (unknown nonce), used, expired or wrong; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _answer_hash(nonce: str, answer: str) -> str:
    return tokens.keyed_hash(f"{nonce}:{answer}", "captcha-answer")


def _squeeze(text: str) -> str:
    return re.sub(r"[\s\-'’.]", "", fold(text or ""))


def normalise(mode: str, answer: str) -> str:
    """The canonical form of what was typed: upper-case characters, or a number in digits."""
    if mode == "image":
        return _squeeze(answer).upper()
    typed = _squeeze(answer)
    if typed.isdigit():
        return str(int(typed))
    for n, word in enumerate(NUMBER_WORDS):
        if typed in (_squeeze(str(word)), _FRENCH_WORDS[n]) or (n == 1 and typed == "une"):
            return str(n)
    return typed


def issue(mode: str) -> Challenge:
    """A new challenge of this mode; adds its row (the caller commits)."""
    if mode not in MODES:
        raise ValueError(f"unknown captcha mode {mode!r}")
    now = utcnow()
    db.session.execute(
        delete(Verification).where(
            Verification.purpose == PURPOSE, Verification.expires_at < now - LIFETIME
        )
    )
    nonce = tokens.new_token(32)
    if mode == "image":
        text = captcha_image.random_text(TEXT_LENGTH)
        challenge = Challenge(nonce, mode, svg=captcha_image.render(text))
        expected = text
    else:
        terms = (secrets.randbelow(9) + 1, secrets.randbelow(9) + 1)
        challenge = Challenge(nonce, mode, terms=terms)
        expected = str(sum(terms))
    db.session.add(
        Verification(
            purpose=PURPOSE,
            channel=mode,
            destination=_answer_hash(nonce, expected),
            secret_hash=tokens.sha256(nonce),
            expires_at=now + LIFETIME,
            max_attempts=1,
        )
    )
    return challenge


def _claim(nonce: str) -> Verification:
    """Mark the challenge used (first caller only) and return it."""
    row = db.session.scalar(
        select(Verification).where(
            Verification.secret_hash == tokens.sha256(nonce or ""),
            Verification.purpose == PURPOSE,
        )
    )
    if row is None:
        raise CaptchaRejected("missing")
    claimed = db.session.execute(
        update(Verification)
        .where(Verification.id == row.id, Verification.used_at.is_(None))
        .values(used_at=utcnow(), attempts=Verification.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise CaptchaRejected("used")
    return row


def check(nonce: str, answer: str) -> None:
    """Consume the challenge; raise CaptchaRejected unless the answer is right and in time."""
    row = _claim(nonce)
    if row.expires_at <= utcnow():
        raise CaptchaRejected("expired")
    expected = row.destination
    if not tokens.same(expected, _answer_hash(nonce, normalise(row.channel, answer))):
        raise CaptchaRejected("wrong")


def discard(nonce: str) -> None:
    """Burn a challenge the person replaced ("Changer le texte", "Version accessible")."""
    with contextlib.suppress(CaptchaRejected):
        _claim(nonce)
