"""Upstream logins: verify the callback, then log in, link (with proof) or sign up.

Conventions (Indico): an upstream login resolves to one of three outcomes and each is
audited. Never link on an email: only the upstream `sub` (already linked) or a unique
pivot-identity match followed by the account's password, then a link sent to its email.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.enrolment import services as accounts
from idp.enrolment import validators
from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.federation import pivot
from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamError
from idp.federation.contact import link_state
from idp.federation.models import FederatedIdentity
from idp.federation.models import FederationFlow
from idp.models import Account
from idp.models import utcnow
from idp.registry import services as registry
from idp.registry.models import InsuredRecord
from idp.security import audit
from idp.security import tokens
from idp.security import verification
from idp.security.passwords import verify_password
from idp.security.verification import Verification

# Upstream errors that mean "the person cancelled" (FC also uses it for a failed
# civil-registry lookup: same page, other ways to log in).
CANCELLED = {"access_denied"}
# RFC 8176 amr values passed through next to our own "fc".
KNOWN_AMR = {"pwd", "mfa", "otp", "sms", "hwk", "swk", "pin", "face", "fpt", "pop", "sc", "mca"}
MAX_PROOF_ATTEMPTS = 5
# The second proof of a link: a single-use link to the matched account's email.
LINK_PURPOSE = "federation_link"
LINK_VALIDITY = dt.timedelta(hours=1)
# Portal journeys that need the person's NIR, checked against the insured registry.
NIR_JOURNEYS = {"ameli", "mon-espace-sante"}
# Upstreams that identify health professionals by their national identifier (IdNat_PS:
# "8" + RPPS or "0" + ADELI, Pro Santé Connect's `SubjectNameID`) and give no birthdate:
# they match accounts on that identifier only, never on a name or an email.
PROFESSIONAL_PRESETS = {"pro-sante-connect"}
PROFESSIONAL_CLAIM = "SubjectNameID"
# AccountIdentifier kind holding it (keyed hash, shown in Mon compte as "RPPS").
PROFESSIONAL_KIND = "rpps"
_PROFESSIONAL_ID = re.compile(r"[0-9][0-9A-Z/]{4,49}")


def amr_marker(upstream: UpstreamClient) -> str:
    """Our amr value naming the upstream: "fc" for FranceConnect (v2 and +), "psc" for
    Pro Santé Connect, "fed" for another provider."""
    preset = upstream.preset.name
    if preset.startswith("franceconnect"):
        return "fc"
    return "psc" if preset == "pro-sante-connect" else "fed"


@dataclass(frozen=True)
class Verified:
    """An upstream identity whose every part was checked."""

    provider: str
    issuer: str
    subject: str
    claims: dict[str, Any]
    id_token: str
    acr: str | None
    amr: list[str]
    # The configured upstream it came through (its name: franceconnect, …).
    upstream: str = ""


@dataclass(frozen=True)
class Outcome:
    """login (linked account), link (unique match: prove it), signup (no match),
    ambiguous (several matches: refused), mismatch (the one match states another identity:
    refused) or unavailable (linked account suspended)."""

    kind: str
    account: Account | None = None
    identity: FederatedIdentity | None = None


def verify_callback(
    upstream: UpstreamClient,
    flow: FederationFlow | None,
    params: Mapping[str, str],
    redirect_uri: str,
) -> Verified:
    """Check state, error, iss (RFC 9207), then the token, ID token and userinfo."""
    if flow is None:
        raise UpstreamError("bad_state", "unknown, used or expired state")
    flow.used_at = utcnow()
    if params.get("error"):
        error = params["error"][:64]
        raise UpstreamError("cancelled" if error in CANCELLED else "refused", error)
    iss = params.get("iss")
    if iss is not None and iss != upstream.settings.issuer:
        raise UpstreamError("bad_issuer", "callback iss")
    if iss is None and (
        upstream.preset.require_iss
        or upstream.metadata().get("authorization_response_iss_parameter_supported")
    ):
        raise UpstreamError("bad_issuer", "callback without iss")
    code = params.get("code")
    if not code:
        raise UpstreamError("refused", "callback without code")
    access_token, raw = upstream.exchange(code, redirect_uri)
    id_claims = upstream.verify_id_token(raw, flow.nonce_hash, flow.acr_requested)
    # FC's access token lives 60 s: ask for the userinfo right away.
    info = upstream.userinfo(access_token, id_claims["sub"])
    amr = id_claims.get("amr") if isinstance(id_claims.get("amr"), list) else []
    return Verified(
        provider=upstream.settings.preset.name,
        issuer=upstream.settings.issuer,
        subject=id_claims["sub"],
        claims={k: v for k, v in info.items() if k not in {"iss", "aud", "exp", "iat", "nbf"}},
        id_token=raw,
        acr=id_claims.get("acr"),
        amr=[amr_marker(upstream), *[a for a in amr if a in KNOWN_AMR]],
        upstream=upstream.settings.name,
    )


def keep(flow: FederationFlow, verified: Verified) -> None:
    """Hold the verified identity on the round trip while the person links or signs up."""
    flow.subject = verified.subject
    flow.claims = verified.claims
    flow.id_token = verified.id_token
    flow.acr = verified.acr
    flow.amr = verified.amr


def restore(flow: FederationFlow, upstream: UpstreamClient) -> Verified:
    """The identity a verified round trip holds."""
    return Verified(
        provider=upstream.preset.name,
        upstream=upstream.settings.name,
        issuer=upstream.settings.issuer,
        subject=flow.subject or "",
        claims=dict(flow.claims or {}),
        id_token=flow.id_token or "",
        acr=flow.acr,
        amr=list(flow.amr or [amr_marker(upstream)]),
    )


def identity_of(issuer: str, subject: str) -> FederatedIdentity | None:
    return db.session.scalar(
        select(FederatedIdentity).where(
            FederatedIdentity.issuer == issuer, FederatedIdentity.subject == subject
        )
    )


def identity_of_account(account_id: int, issuer: str) -> FederatedIdentity | None:
    return db.session.scalar(
        select(FederatedIdentity).where(
            FederatedIdentity.account_id == account_id, FederatedIdentity.issuer == issuer
        )
    )


def resolve(verified: Verified, origin: audit.Origin) -> Outcome:
    """Which of the outcomes applies (no account is changed here)."""
    identity = identity_of(verified.issuer, verified.subject)
    if identity is not None:
        account = db.session.get(Account, identity.account_id)
        if account is None or not account.is_active:
            audit.record(
                "federation.refused",
                account_id=identity.account_id,
                origin=origin,
                provider=verified.provider,
                reason="account_unavailable",
            )
            return Outcome("unavailable", account, identity)
        return Outcome("login", account, identity)
    if verified.provider in PROFESSIONAL_PRESETS:
        # No birthdate: the pivot identity cannot match; the national identifier can.
        number = professional_id(verified)
        found = professional_candidates(number) if number else []
        matched_on = "professional_id"
    else:
        found = pivot.candidates(verified.claims)
        matched_on = "pivot"
    if len(found) == 1 and (mismatch := pivot.differences(found[0], verified.claims)):
        # Only the identifier matched, and the account states another identity: never
        # merged nor overwritten, whatever proofs would follow (as from Mon compte).
        audit.record(
            "federation.link_mismatch",
            account_id=found[0].id,
            origin=origin,
            provider=verified.provider,
            upstream=verified.upstream,
            match=matched_on,
            fields=mismatch,
        )
        return Outcome("mismatch", found[0])
    if len(found) == 1:
        audit.record(
            "federation.link_offered",
            account_id=found[0].id,
            origin=origin,
            provider=verified.provider,
            upstream=verified.upstream,
            match=matched_on,
        )
        return Outcome("link", found[0])
    if len(found) > 1:
        audit.record(
            "federation.match_ambiguous",
            origin=origin,
            provider=verified.provider,
            upstream=verified.upstream,
            match=matched_on,
            count=len(found),
        )
        return Outcome("ambiguous")
    return Outcome("signup")


def certified_names(verified: Verified) -> list[str]:
    """The account fields the upstream certifies: the pivot identity for FranceConnect;
    only the names Pro Santé Connect gives (it certifies no birthdate or gender)."""
    if verified.provider in PROFESSIONAL_PRESETS:
        values = pivot.certified_values(verified.claims)
        return [n for n in ("family_name", "given_name") if values.get(n) is not None]
    return list(pivot.CERTIFIED_FIELDS)


def professional_id(verified: Verified) -> str | None:
    """The health professional's national identifier the upstream certifies, normalised
    (spaces dropped, upper case), or None (another kind of upstream, missing, malformed)."""
    if verified.provider not in PROFESSIONAL_PRESETS:
        return None
    raw = verified.claims.get(PROFESSIONAL_CLAIM)
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    number = re.sub(r"\s+", "", str(raw)).upper()
    return number if _PROFESSIONAL_ID.fullmatch(number) else None


def professional_candidates(number: str) -> list[Account]:
    """Active accounts holding this national identifier (exact match on its keyed hash)."""
    return list(
        db.session.scalars(
            select(Account)
            .join(AccountIdentifier, AccountIdentifier.account_id == Account.id)
            .where(
                AccountIdentifier.kind == PROFESSIONAL_KIND,
                AccountIdentifier.lookup_hash
                == accounts.identifier_hash(PROFESSIONAL_KIND, number),
                Account.status == "active",
            )
        )
    )


def remember_professional_id(account: Account, verified: Verified, origin: audit.Origin) -> None:
    """Keep the upstream's national identifier on the account, so that the next login
    with an identity not linked yet (new `sub`, another platform) finds this account."""
    number = professional_id(verified)
    if number is None:
        return
    held = db.session.scalars(
        select(AccountIdentifier.lookup_hash).where(
            AccountIdentifier.account_id == account.id,
            AccountIdentifier.kind == PROFESSIONAL_KIND,
        )
    ).all()
    if accounts.identifier_hash(PROFESSIONAL_KIND, number) in held:
        return
    if held or accounts.identifier_in_use(PROFESSIONAL_KIND, number):
        # Another identifier on this account, or this one on another account: nothing is
        # overwritten or moved (the helpdesk sorts it out from the audit trail).
        audit.record(
            "federation.professional_id_conflict",
            account_id=account.id,
            origin=origin,
            provider=verified.provider,
            upstream=verified.upstream,
        )
        return
    accounts.add_identifier(account, PROFESSIONAL_KIND, number, shown=True)
    audit.record(
        "federation.professional_id_added",
        account_id=account.id,
        origin=origin,
        provider=verified.provider,
        upstream=verified.upstream,
    )


def _apply_certified(account: Account, claims: dict[str, Any], fields: list[str]) -> list[str]:
    values = pivot.certified_values(claims)
    changed = []
    for name in fields:
        if values.get(name) is not None and getattr(account, name) != values[name]:
            setattr(account, name, values[name])
            changed.append(name)
    return changed


def login_linked(identity: FederatedIdentity, verified: Verified, origin: audit.Origin) -> Account:
    """An already linked identity logs in; the certified fields are refreshed."""
    account = db.session.get(Account, identity.account_id)
    changed = _apply_certified(account, verified.claims, identity.certified_fields)
    identity.claims = verified.claims
    identity.acr = verified.acr
    identity.last_login_at = utcnow()
    # Links made before the identifier was kept get it now.
    remember_professional_id(account, verified, origin)
    audit.record(
        "federation.login",
        account_id=account.id,
        origin=origin,
        provider=verified.provider,
        acr=verified.acr,
        refreshed=changed,
    )
    return account


def check_proof(
    flow: FederationFlow, account: Account, password: str, origin: audit.Origin
) -> bool:
    """The person typed the matched account's password; attempts are counted."""
    flow.attempts += 1
    ok, new_hash = verify_password(account.password_hash, password)
    if ok and new_hash:
        account.password_hash = new_hash
    if not ok:
        audit.record(
            "federation.link_failed",
            account_id=account.id,
            origin=origin,
            provider=flow.provider,
            attempts=flow.attempts,
        )
    return ok


def send_link_proof(flow: FederationFlow, account: Account, origin: audit.Origin) -> str:
    """The password (if any) proved: email a link whose secret now continues the round trip."""
    issued = verification.issue_link(
        LINK_PURPOSE, account.email, LINK_VALIDITY, account_id=account.id
    )
    flow.continuation_hash = tokens.sha256(issued.secret)
    flow.stage = "emailed"
    flow.expires_at = utcnow() + LINK_VALIDITY
    audit.record(
        "federation.link_email_sent",
        account_id=account.id,
        origin=origin,
        provider=flow.provider,
        password=account.password_hash is not None,
    )
    return issued.secret


def link_proof(secret: str) -> tuple[str, Verification | None, FederationFlow | None]:
    """The email link's state (see contact.link_state), its row and the round trip it
    continues ("gone" once that round trip ended)."""
    row = verification.find_link(secret, LINK_PURPOSE)
    state = link_state(row)
    flow = db.session.scalar(
        select(FederationFlow).where(FederationFlow.continuation_hash == tokens.sha256(secret))
    )
    if state == "valid" and (
        flow is None or flow.stage != "emailed" or flow.expires_at <= utcnow()
    ):
        state = "gone"
    return state, row, flow if state == "valid" else None


def link(verified: Verified, account: Account, origin: audit.Origin) -> FederatedIdentity:
    """Link the upstream identity to an account its owner proved; certify its fields.

    An identity of the same issuer already on the account (its `sub` changed with a civil
    status change) is replaced: the same proof path re-links.
    """
    fields = certified_names(verified)
    identity = identity_of_account(account.id, verified.issuer)
    relinked = identity is not None
    if identity is None:
        identity = FederatedIdentity(
            provider=verified.provider,
            issuer=verified.issuer,
            account_id=account.id,
        )
        db.session.add(identity)
    identity.upstream = verified.upstream or None
    identity.subject = verified.subject
    identity.claims = verified.claims
    identity.acr = verified.acr
    identity.certified_fields = fields
    identity.linked_at = utcnow()
    identity.last_login_at = utcnow()
    _apply_certified(account, verified.claims, fields)
    remember_professional_id(account, verified, origin)
    audit.record(
        "federation.relinked" if relinked else "federation.linked",
        account_id=account.id,
        origin=origin,
        provider=verified.provider,
        upstream=verified.upstream,
        acr=verified.acr,
    )
    return identity


def linked_identity(account_id: int) -> FederatedIdentity | None:
    """The account's upstream identity (any issuer), for Mon compte."""
    return db.session.scalar(
        select(FederatedIdentity)
        .where(FederatedIdentity.account_id == account_id)
        .order_by(FederatedIdentity.linked_at.desc(), FederatedIdentity.id.desc())
        .limit(1)
    )


def identities_of_account(account_id: int) -> list[FederatedIdentity]:
    """Every upstream identity linked to the account, oldest first."""
    return list(
        db.session.scalars(
            select(FederatedIdentity)
            .where(FederatedIdentity.account_id == account_id)
            .order_by(FederatedIdentity.linked_at, FederatedIdentity.id)
        )
    )


def upstream_of(identity: FederatedIdentity, issuers: Mapping[str, str]) -> str:
    """The configured upstream name an identity belongs to: the one recorded on it, else
    (links made before several upstreams) the upstream of its issuer, else its preset.
    `issuers` maps each configured upstream's issuer to its name."""
    return identity.upstream or issuers.get(identity.issuer) or identity.provider


def can_unlink(
    account: Account, upstream: str | None = None, issuers: Mapping[str, str] | None = None
) -> bool:
    """Unlinking must leave a way to log in: a password (or personal code), or an identity
    of another configured upstream (`upstream`: the one being unlinked)."""
    if account.password_hash is not None:
        return True
    if upstream is None or issuers is None:
        return False
    configured_names = set(issuers.values())
    return any(
        name != upstream and name in configured_names
        for name in (upstream_of(i, issuers) for i in identities_of_account(account.id))
    )


def unlink(
    account: Account,
    origin: audit.Origin,
    upstream: str | None = None,
    issuers: Mapping[str, str] | None = None,
) -> int:
    """Remove the account's identities of one upstream (every upstream when None): their
    fields are no longer certified by it."""
    rows = [
        row
        for row in identities_of_account(account.id)
        if upstream is None or upstream_of(row, issuers or {}) == upstream
    ]
    for row in rows:
        db.session.delete(row)
        audit.record(
            "federation.unlinked",
            account_id=account.id,
            origin=origin,
            provider=row.provider,
            upstream=upstream_of(row, issuers or {}),
        )
    return len(rows)


def create_account(verified: Verified, origin: audit.Origin) -> Account:
    """A new active account from the certified identity (those fields locked).

    The email is not stored yet: it is set once the person confirms it (a link).
    """
    from idp.enrolment.services import record_consents

    values = pivot.certified_values(verified.claims)
    usage = (verified.claims.get("preferred_username") or "").strip() or None
    if verified.provider in PROFESSIONAL_PRESETS:
        # Pro Santé Connect's preferred_username is the national identifier, not a name.
        usage = None
    account = Account(
        status="active",
        usage_name=usage,
        civility={"female": "madame", "male": "monsieur"}.get(values["gender"] or ""),
        **values,
    )
    db.session.add(account)
    db.session.flush()
    record_consents(account, {})
    db.session.add(
        FederatedIdentity(
            provider=verified.provider,
            upstream=verified.upstream or None,
            issuer=verified.issuer,
            subject=verified.subject,
            account_id=account.id,
            claims=verified.claims,
            acr=verified.acr,
            certified_fields=certified_names(verified),
            last_login_at=utcnow(),
        )
    )
    db.session.flush()
    remember_professional_id(account, verified, origin)
    audit.record(
        "federation.account_created",
        account_id=account.id,
        origin=origin,
        provider=verified.provider,
        acr=verified.acr,
    )
    return account


def certified_fields(account_id: int) -> set[str]:
    """Account fields an upstream certifies: the profile page must not let them change."""
    rows = db.session.scalars(
        select(FederatedIdentity.certified_fields).where(FederatedIdentity.account_id == account_id)
    )
    return {name for fields in rows for name in (fields or [])}


def needs_nir(journey: str | None, account_id: int) -> bool:
    """The portal's journey wants a NIR the account does not have yet."""
    if journey not in NIR_JOURNEYS:
        return False
    known = db.session.scalar(
        select(AccountIdentifier.id).where(
            AccountIdentifier.account_id == account_id, AccountIdentifier.kind == "nir"
        )
    )
    return known is None


def _same_given_names(upstream: str | None, registered: str | None) -> bool:
    """All first names, or only the first one when the registry holds only that
    (FranceConnect gives every first name: "Angela Claire Louise" ~ "ANGELA")."""
    mine, theirs = validators.normalise_name(upstream), validators.normalise_name(registered)
    if not (mine and theirs):
        return False
    # FranceConnect separates first names with spaces; a hyphenated one stays whole.
    first = validators.normalise_name((upstream or "").split()[0])
    return theirs in {mine, first}


def match_insured(claims: dict[str, Any], nir: str, card_serial: str) -> InsuredRecord | None:
    """The insured record of NIR + card serial whose birthdate, birth name and first names
    are those of the upstream identity (never says which differed)."""
    born = pivot.parse_birthdate(claims.get("birthdate"))
    if born is None:
        return None
    record = registry.match_insured_card(nir=nir, card_serial=card_serial, birthdate=born)
    if record is None:
        return None
    family = validators.normalise_name(claims.get("family_name"))
    if not family or family != validators.normalise_name(record.birth_family_name):
        return None
    return record if _same_given_names(claims.get("given_name"), record.given_names) else None


def add_nir(account: Account, record: InsuredRecord, origin: audit.Origin) -> bool:
    """Give the account the record's NIR (not shown); False when another account has it."""
    nir = record.nir()
    if accounts.identifier_in_use("nir", nir):
        audit.record("federation.nir_taken", account_id=account.id, origin=origin)
        return False
    accounts.add_identifier(account, "nir", nir, shown=False)
    audit.record("federation.nir_added", account_id=account.id, origin=origin)
    return True
