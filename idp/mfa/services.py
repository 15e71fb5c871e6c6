"""Second factors: acr policy, TOTP, recovery codes, codes by SMS or mail, remembered devices.

Plain functions: they may add and flush, never commit, never read the request.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Mapping
from typing import Any

import pyotp
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.mfa import devices
from idp.mfa.models import RecoveryCode
from idp.mfa.models import TotpCredential
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.oidc.models import BrowserSession
from idp.registry import crypto
from idp.security import audit
from idp.security import tokens
from idp.security import verification

# eIDAS levels, lowest first. idp itself reaches eidas2 (two factors); eidas3 only comes
# from FranceConnect+.
ACR_LEVELS = ("eidas1", "eidas2", "eidas3")
TWO_FACTORS = "eidas2"
CODE_PURPOSE = "mfa_code"
CODE_LIFETIME = dt.timedelta(minutes=10)
CODES_PER_HOUR = 5
PENDING_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
FAILURE_EVENT = "mfa.code_rejected"
# amr values (RFC 8176 where one exists; "mail" is idp's own).
AMR = {"totp": "otp", "recovery": "otp", "sms": "sms", "mail": "mail"}


class FactorRefused(Exception):
    """A wrong, replayed, expired or used code; `reason` says which (never shown as is)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TooManyCodes(Exception):
    """Too many codes sent to this address lately."""


# acr policy ---------------------------------------------------------------
def acr_rank(acr: str | None) -> int:
    """0 for a missing or unknown acr, else 1 (eidas1) to 3 (eidas3)."""
    return ACR_LEVELS.index(acr) + 1 if acr in ACR_LEVELS else 0


def _essential_levels(params: Mapping[str, Any]) -> list[str]:
    """The acr values of an essential `acr` claim request (OIDC Core §5.5.1.1)."""
    raw = params.get("claims")
    try:
        claims_request = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        claims_request = {}
    levels: list[str] = []
    for member in ("id_token", "userinfo"):
        section = claims_request.get(member) if isinstance(claims_request, dict) else None
        acr = section.get("acr") if isinstance(section, dict) else None
        if isinstance(acr, dict) and acr.get("essential"):
            values = acr.get("values")
            levels += [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
            if isinstance(acr.get("value"), str):
                levels.append(acr["value"])
    return levels


def required_acr(client: Any, params: Mapping[str, Any]) -> str | None:
    """The level the session must reach before a code is issued; None when one factor is
    enough.

    - A portal's own minimum is kept as is: eidas3 (FranceConnect+ only) is never met by
      idp's own second factor.
    - An essential `acr` claim must be met by one of its values (OIDC Core §5.5.1.1): the
      lowest known one is required, as is.
    - `acr_values` are voluntary (OIDC Core §3.1.2.1): they ask two factors at most.
    """
    needed: list[str] = []
    minimum = getattr(client, "min_acr", None) if client is not None else None
    if minimum:
        needed.append(minimum)
    essential = [v for v in _essential_levels(params) if acr_rank(v)]
    if essential:
        needed.append(min(essential, key=acr_rank))
    if any(acr_rank(v) >= acr_rank(TWO_FACTORS) for v in (params.get("acr_values") or "").split()):
        needed.append(TWO_FACTORS)
    top = max(needed, key=acr_rank, default=None)
    return top if acr_rank(top) >= acr_rank(TWO_FACTORS) else None


def satisfies(acr: str | None, required: str | None) -> bool:
    return required is None or acr_rank(acr) >= acr_rank(required)


def reachable_locally(required: str | None) -> bool:
    """idp's own factors (a password, then a code) can reach this level: eidas2 at most.

    eidas3 only comes from FranceConnect+: asking a code for it would be for nothing."""
    return acr_rank(required) <= acr_rank(TWO_FACTORS)


def beyond_reach(acr: str | None, required: str | None) -> bool:
    """A session at `acr` misses `required`, and no code of idp's could make up for it."""
    return not satisfies(acr, required) and not reachable_locally(required)


def session_has_second_factor(sso_session: BrowserSession | None) -> bool:
    """The SSO session reached eidas2 or more (two local factors, or FranceConnect's level)."""
    return sso_session is not None and acr_rank(sso_session.acr) >= acr_rank(TWO_FACTORS)


def upgrade_session(sso_session: BrowserSession, method: str, origin: audit.Origin) -> None:
    """Step-up: the session now has two factors. auth_time is kept (the password time)."""
    amr = list(sso_session.amr or [])
    if AMR[method] not in amr:
        amr.append(AMR[method])
    sso_session.amr = amr
    if acr_rank(sso_session.acr) < acr_rank(TWO_FACTORS):
        sso_session.acr = TWO_FACTORS
    audit.record(
        "mfa.session_upgraded", account_id=sso_session.account_id, origin=origin, method=method
    )


# TOTP ---------------------------------------------------------------------
@functools.cache
def _totp_by_account():
    # Built once (every password login reads it): building and hashing the statement
    # costs about as much as running it.
    return select(TotpCredential).where(TotpCredential.account_id == bindparam("account_id"))


def totp_of(account_id: int) -> TotpCredential | None:
    return db.session.scalar(_totp_by_account(), {"account_id": account_id})


def enabled_totp(account_id: int) -> TotpCredential | None:
    cred = totp_of(account_id)
    return cred if cred is not None and cred.enabled_at is not None else None


def start_totp(account_id: int) -> TotpCredential:
    """A new secret waiting for its first right code (replaces an unfinished one)."""
    cred = totp_of(account_id)
    if cred is not None and cred.enabled_at is not None:
        return cred
    secret = pyotp.random_base32()
    if cred is None:
        cred = TotpCredential(account_id=account_id, secret_encrypted=crypto.encrypt(secret))
        db.session.add(cred)
    else:
        cred.secret_encrypted = crypto.encrypt(secret)
        cred.created_at = utcnow()
        cred.last_step = None
    db.session.flush()
    return cred


def totp_secret(cred: TotpCredential) -> str:
    return crypto.decrypt(cred.secret_encrypted)


def provisioning_uri(cred: TotpCredential, account: Account, issuer_name: str) -> str:
    name = account.email or account.username or account.sub
    return pyotp.TOTP(totp_secret(cred)).provisioning_uri(name=name, issuer_name=issuer_name)


def _normalise_code(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def check_totp(cred: TotpCredential, code: str, now: dt.datetime | None = None) -> bool:
    """A code of the current step or the one either side, never one of a step already used."""
    code = _normalise_code(code)
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(totp_secret(cred))
    current = totp.timecode(now or utcnow())
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            if cred.last_step is not None and step <= cred.last_step:
                return False  # replay within the window (or an older code)
            # Claim the step in the database: of two requests carrying the same code at the
            # same time (both having read the old last_step), only one updates the row.
            claimed = db.session.execute(
                update(TotpCredential)
                .where(
                    TotpCredential.id == cred.id,
                    or_(TotpCredential.last_step.is_(None), TotpCredential.last_step < step),
                )
                .values(last_step=step, last_used_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.refresh(cred)
            return claimed == 1
    return False


def enable_totp(cred: TotpCredential, code: str, origin: audit.Origin) -> list[str] | None:
    """Enable the app after a right code; return the new recovery codes (None: wrong code)."""
    if cred.enabled_at is not None or not check_totp(cred, code):
        return None
    cred.enabled_at = utcnow()
    audit.record("mfa.totp_enabled", account_id=cred.account_id, origin=origin)
    return regenerate_recovery_codes(cred.account_id, origin)


def disable_totp(account_id: int, origin: audit.Origin) -> bool:
    """Remove the app, its recovery codes and remembered devices; False if none was enabled."""
    cred = enabled_totp(account_id)
    if cred is None:
        return False
    db.session.delete(cred)
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    devices.forget_all_devices(account_id, origin, reason="totp_disabled")
    audit.record("mfa.totp_disabled", account_id=account_id, origin=origin)
    return True


# recovery codes -------------------------------------------------------------
def _recovery_hash(account_id: int, code: str) -> str:
    return tokens.keyed_hash(f"{account_id}:{_normalise_code(code)}", "mfa-recovery-code")


def regenerate_recovery_codes(account_id: int, origin: audit.Origin) -> list[str]:
    """Ten new single-use codes (shown once); the older ones stop working."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(
            RecoveryCode(account_id=account_id, code_hash=_recovery_hash(account_id, raw))
        )
    audit.record("mfa.recovery_codes_generated", account_id=account_id, origin=origin)
    return codes


def use_recovery_code(account_id: int, code: str) -> bool:
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.account_id == account_id,
            RecoveryCode.code_hash == _recovery_hash(account_id, code),
        )
    )
    if row is None or row.used_at is not None:
        return False
    # Consume it in the database: of two requests with the same code at once, one wins.
    claimed = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(row)
    return claimed == 1


def recovery_codes_left(account_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


# codes by SMS or mail ---------------------------------------------------------
def code_destinations(account: Account) -> dict[str, str]:
    """Where a one-time code may be sent: verified phone and verified email only."""
    found = {}
    if account.phone and account.phone_verified_at:
        found["sms"] = account.phone
    if account.email and account.email_verified_at:
        found["mail"] = account.email
    return found


def methods_of(account: Account) -> list[str]:
    """The factors this account can use, the preferred one first."""
    methods = ["totp", "recovery"] if enabled_totp(account.id) else []
    return methods + list(code_destinations(account))


def send_code(account: Account, method: str, origin: audit.Origin) -> verification.Issued:
    """A new 6-digit code for `method` (sms or mail); older ones stop working."""
    destination = code_destinations(account)[method]
    since = utcnow() - dt.timedelta(hours=1)
    if verification.codes_issued_since(CODE_PURPOSE, since, destination=destination) >= (
        CODES_PER_HOUR
    ):
        audit.record("mfa.code_throttled", account_id=account.id, origin=origin, method=method)
        raise TooManyCodes
    issued = verification.issue_code(
        CODE_PURPOSE,
        destination,
        CODE_LIFETIME,
        account_id=account.id,
        channel="sms" if method == "sms" else "email",
    )
    audit.record("mfa.code_sent", account_id=account.id, origin=origin, method=method)
    return issued


def code_sent(account_id: int, method: str) -> bool:
    """A code for this method is waiting to be typed."""
    row = _latest_code(account_id, method)
    return row is not None and row.used_at is None and row.superseded_at is None


def _latest_code(account_id: int, method: str) -> verification.Verification | None:
    channel = "sms" if method == "sms" else "email"
    return db.session.scalar(
        select(verification.Verification)
        .where(
            verification.Verification.account_id == account_id,
            verification.Verification.purpose == CODE_PURPOSE,
            verification.Verification.channel == channel,
        )
        .order_by(verification.Verification.id.desc())
        .limit(1)
    )


def _claim_code(row: verification.Verification) -> bool:
    """Mark a right code used in the database unless a parallel request already did."""
    with db.session.no_autoflush:
        claimed = db.session.execute(
            update(verification.Verification)
            .where(
                verification.Verification.id == row.id, verification.Verification.used_at.is_(None)
            )
            .values(used_at=row.used_at or utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    return claimed == 1


# one entry point ----------------------------------------------------------------
def verify_factor(account: Account, method: str, code: str, origin: audit.Origin) -> str:
    """Check a second factor; return its amr value, or raise FactorRefused (audited)."""
    accepted = False
    if method == "totp":
        cred = enabled_totp(account.id)
        accepted = cred is not None and check_totp(cred, code)
    elif method == "recovery":
        accepted = enabled_totp(account.id) is not None and use_recovery_code(account.id, code)
    elif method in ("sms", "mail") and method in code_destinations(account):
        try:
            row = verification.check_code(_latest_code(account.id, method), _normalise_code(code))
        except verification.CodeRejected:
            accepted = False
        else:
            accepted = _claim_code(row)
    if not accepted:
        audit.record(FAILURE_EVENT, account_id=account.id, origin=origin, method=method)
        raise FactorRefused("wrong")
    audit.record("mfa.code_accepted", account_id=account.id, origin=origin, method=method)
    if method == "recovery":
        audit.record(
            "mfa.recovery_code_used",
            account_id=account.id,
            origin=origin,
            left=recovery_codes_left(account.id),
        )
    return AMR[method]


def failures_since(account_id: int, since: dt.datetime) -> int:
    """Wrong second-factor codes typed for this account since then (server-side count)."""
    db.session.flush()
    return (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.account_id == account_id,
                AuditEvent.event == FAILURE_EVENT,
                AuditEvent.created_at >= since,
            )
        )
        or 0
    )
