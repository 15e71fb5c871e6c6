"""Test identities of the stand-in: the hard cases of the pivot identity, and faults.

The first one is FranceConnect's own public test identity. A `fault` makes the stand-in
misbehave after that identity is chosen, the way a broken or forged answer would.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

# What each fault does:
FAULTS = {
    "token_500": "le point d'accès jeton répond 500",
    "token_slow": "le point d'accès jeton répond après le délai d'attente d'idp",
    "bad_signature": "jeton d'identité signé par une autre clé (même kid)",
    "wrong_nonce": "jeton d'identité avec un nonce différent",
    "low_acr": "jeton d'identité avec un niveau eIDAS inférieur à celui demandé",
    "userinfo_other_sub": "informations utilisateur d'une autre personne (autre sub)",
    "wrong_iss": "jeton d'identité émis par un autre fournisseur (iss différent)",
    "wrong_aud": "jeton d'identité destiné à un autre fournisseur de service (aud différent)",
    "expired": "jeton d'identité expiré (exp dépassé)",
    "wrong_enc_key": "jeton d'identité chiffré pour une autre clé que celle d'idp",
}


@dataclass(frozen=True)
class StandinIdentity:
    key: str
    label: str
    claims: dict[str, Any]
    fault: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _person(given, family, birthdate, gender, birthplace, birthcountry, email=None, usage=None):
    claims: dict[str, Any] = {
        "given_name": given,
        "given_name_array": given.split(" "),
        "family_name": family,
        "birthdate": birthdate,
        "gender": gender,
        "birthplace": birthplace,
        "birthcountry": birthcountry,
    }
    if email:
        claims["email"] = email
    if usage:
        claims["preferred_username"] = usage
    return claims


IDENTITIES: tuple[StandinIdentity, ...] = (
    StandinIdentity(
        "angela",
        "Angela Claire Louise DUBOIS",
        _person("Angela Claire Louise", "DUBOIS", "1962-08-24", "female", "75107", "99100",
                "wossewodda-3728@yopmail.com"),
        notes=("identité de test publique de FranceConnect", "née à Paris 7e"),
    ),
    StandinIdentity(
        "pierre-paul",
        "Pierre Paul MARTIN",
        _person("Pierre Paul", "MARTIN", "1975-03-12", "male", "69123", "99100",
                "pierre-paul.martin@example.fr"),
        notes=("deux prénoms",),
    ),
    StandinIdentity(
        "marie-helene",
        "Marie-Hélène LEGRAND, épouse DURAND",
        _person("Marie-Hélène", "LEGRAND", "1980-06-15", "female", "33063", "99100",
                "mh.durand@example.fr", usage="DURAND"),
        notes=("nom d'usage", "prénom composé accentué"),
    ),
    StandinIdentity(
        "sofia",
        "Sofia ROSSI",
        _person("Sofia", "ROSSI", "1990-11-02", "female", "", "99127", "sofia.rossi@example.fr"),
        notes=("née à l'étranger (Italie) : lieu de naissance vide",),
    ),
    StandinIdentity(
        "jean-baptiste",
        "Jean-Baptiste SANTONI",
        _person("Jean-Baptiste", "SANTONI", "1958-02-28", "male", "2A004", "99100",
                "jb.santoni@example.fr"),
        notes=("né en Corse (Ajaccio, 2A004)",),
    ),
    StandinIdentity(
        "ali",
        "Ali BENSAÏD",
        _person("Ali", "BENSAÏD", "1970-01-01", "male", "", "99350", "ali.bensaid@example.fr"),
        notes=("date de naissance présumée (jour et mois inconnus : -01)", "né au Maroc"),
    ),
    StandinIdentity(
        "camille",
        "Camille PETIT",
        _person("Camille", "PETIT", "1985-04-30", "unspecified", "59350", "99100",
                "camille.petit@example.fr"),
        notes=("sexe non précisé (unspecified)",),
    ),
    StandinIdentity(
        "louise",
        "Louise MOREAU",
        _person("Louise", "MOREAU", "1948-12-01", "female", "44109", "99100"),
        notes=("pas d'adresse électronique",),
    ),
    StandinIdentity(
        "lucas",
        "Lucas GARNIER",
        _person("Lucas", "GARNIER", "2012-05-20", "male", "35238", "99100",
                "famille.garnier@example.fr"),
        notes=("mineur", "adresse électronique partagée avec ses parents"),
    ),
    *(
        StandinIdentity(
            f"erreur-{name.replace('_', '-')}",
            f"Erreur : {description}",
            _person("Jean", "TEST", "1980-01-15", "male", "75056", "99100",
                    f"erreur-{name}@example.fr"),
            fault=name,
        )
        for name, description in FAULTS.items()
    ),
)  # fmt: skip

BY_KEY = {identity.key: identity for identity in IDENTITIES}

# Pro Santé Connect: national identifiers (IdNat_PS, `SubjectNameID`: "8" + RPPS, "0" +
# ADELI). Identities not listed answer without one.
PROFESSIONAL_IDS = {
    "angela": "810001234567",
    "pierre-paul": "810009876543",
    "marie-helene": "0751234567",
    "sofia": "810005555555",
    "jean-baptiste": "8 1000 4444 444",
}
# What Pro Santé Connect says of a person: names, email, identifier; no birth data.
PROFESSIONAL_CLAIMS = ("given_name", "family_name", "email")


def professional_claims(identity: StandinIdentity, claims: dict) -> dict:
    """The userinfo of Pro Santé Connect for an identity (from its FranceConnect claims)."""
    out = {k: v for k, v in claims.items() if k in PROFESSIONAL_CLAIMS}
    number = PROFESSIONAL_IDS.get(identity.key)
    if number:
        out["SubjectNameID"] = number
    return out
