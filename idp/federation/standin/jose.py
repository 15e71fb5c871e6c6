"""Signing (and, for FranceConnect+, encrypting) the stand-in's JWTs."""

from __future__ import annotations

from typing import Any

import requests
from joserfc import jwe
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from idp.federation.standin import StandinState

ENC = "A256GCM"
KEY_ALGS = ("RSA-OAEP-256", "RSA-OAEP")


class ClientKeyError(Exception):
    """The client's encryption keys could not be fetched or used."""


def sign(state: StandinState, claims: dict[str, Any], rogue: bool = False) -> str:
    key = state.rogue_key if rogue else state.key
    header = {"alg": state.alg, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[state.alg])


def _client_key(client: dict[str, Any]) -> tuple[RSAKey, str]:
    """The first RSA encryption key published at the client's jwks_uri."""
    try:
        response = requests.get(client["jwks_uri"], timeout=5)
        response.raise_for_status()
        keys = [
            k
            for k in response.json().get("keys", [])
            if k.get("kty") == "RSA" and k.get("use", "enc") == "enc"
        ]
        if not keys:
            raise ClientKeyError("pas de clé RSA de chiffrement")
        alg = keys[0].get("alg") if keys[0].get("alg") in KEY_ALGS else KEY_ALGS[0]
        return RSAKey.import_key(keys[0]), alg
    except (requests.RequestException, ValueError, KeyError, JoseError) as exc:
        raise ClientKeyError(str(exc)) from exc


def seal(
    state: StandinState,
    client: dict[str, Any],
    claims: dict[str, Any],
    rogue: bool = False,
    foreign: bool = False,
) -> str:
    """A signed JWT, encrypted for the client on FranceConnect+ (nested JWT, cty JWT).

    `foreign`: encrypted for a key that is not the client's, with the client's kid (what a
    token meant for someone else looks like); on either platform.
    """
    signed = sign(state, claims, rogue=rogue)
    if not state.encrypted and not foreign:
        return signed
    if foreign:
        kid = _client_key(client)[0].kid if state.encrypted else "inconnue"
        key = RSAKey.generate_key(2048, private=False, parameters={"kid": kid})
        alg = KEY_ALGS[0]
    else:
        key, alg = _client_key(client)
    header = {"alg": alg, "enc": ENC, "kid": key.kid, "cty": "JWT", "typ": "JWT"}
    return jwe.encrypt_compact(header, signed, key, algorithms=[alg, ENC])


def public_jwks(state: StandinState) -> dict[str, Any]:
    data = state.key.as_dict(private=False)
    data.update({"use": "sig", "alg": state.alg, "kid": state.key.kid})
    return {"keys": [data]}


def read_own(state: StandinState, token: str) -> dict[str, Any] | None:
    """The claims of an ID token this stand-in signed (expired ones included), else None."""
    try:
        return dict(jwt.decode(token, KeySet([state.key]), algorithms=[state.alg]).claims)
    except (JoseError, ValueError):
        return None
