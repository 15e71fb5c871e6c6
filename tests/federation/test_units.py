"""Pivot-identity normalisation, presets, settings, keys and the CLI."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import OctKey

from idp.config import Defaults
from idp.config import validate_config
from idp.errors import ConfigError
from idp.federation import pivot
from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamError
from idp.federation.client import UpstreamSettings
from idp.federation.keys import EncryptionKeys
from idp.federation.keys import NoEncryptionKey
from idp.federation.presets import PRESETS
from idp.models import Account


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Marie-Hélène", "MARIE HELENE"),
        ("d’Ornano", "D ORNANO"),
        ("  BENSAÏD ", "BENSAID"),
        ("Œillet", "OEILLET"),
        ("Jean--Éric  de la Tour", "JEAN ERIC DE LA TOUR"),
        (None, ""),
    ],
)
def test_names_are_normalised(raw, normal):
    assert pivot.normalise_name(raw) == normal


def test_first_names_match_all_or_the_first_only():
    assert pivot.given_names_match("angela", "Angela Claire Louise")
    assert pivot.given_names_match("Angela Claire Louise", "Angela Claire Louise")
    assert pivot.given_names_match("Marie Hélène", "Marie-Hélène")
    assert not pivot.given_names_match("Claire", "Angela Claire Louise")
    assert not pivot.given_names_match("", "Angela")


CLAIMS = {
    "given_name": "Angela Claire Louise",
    "family_name": "DUBOIS",
    "birthdate": "1962-08-24",
    "gender": "female",
}


def account(**kw) -> Account:
    values = {
        "given_name": "Angela",
        "family_name": "Dubois",
        "birthdate": dt.date(1962, 8, 24),
        **kw,
    }
    return Account(**values)


def test_pivot_match_needs_birth_name_first_names_birthdate_and_gender():
    assert pivot.matches(account(), CLAIMS)
    assert pivot.matches(account(civility="madame"), CLAIMS)
    assert pivot.matches(account(gender="female"), CLAIMS)
    assert not pivot.matches(account(civility="monsieur"), CLAIMS)
    assert not pivot.matches(account(gender="female"), {**CLAIMS, "gender": "unspecified"})
    assert not pivot.matches(account(birthdate=dt.date(1962, 8, 25)), CLAIMS)
    assert not pivot.matches(account(birthdate=None), CLAIMS)
    assert not pivot.matches(account(family_name="Durand"), CLAIMS)  # a usage name is not enough
    assert not pivot.matches(account(), {**CLAIMS, "birthdate": "1962-08"})


def test_certified_values_keep_only_what_fc_certifies():
    values = pivot.certified_values({**CLAIMS, "gender": "unspecified", "email": "x@y.fr"})
    assert values == {
        "family_name": "DUBOIS",
        "given_name": "Angela Claire Louise",
        "birthdate": dt.date(1962, 8, 24),
        "gender": None,
    }


def test_acr_levels():
    fc = PRESETS["franceconnect"]
    assert fc.acr_satisfies("eidas1", "eidas1") and fc.acr_satisfies("eidas3", "eidas2")
    assert not fc.acr_satisfies("eidas1", "eidas2")
    assert not fc.acr_satisfies(None, "eidas1") and not fc.acr_satisfies("loa3", "eidas1")
    generic = PRESETS["generic"]
    assert generic.acr_satisfies("x", "x") and not generic.acr_satisfies("y", "x")
    assert generic.acr_satisfies(None, None)


def settings(**kw) -> dict:
    values = {k: v for k, v in vars(Defaults).items() if k.isupper()}
    values.update(SECRET_KEY="s" * 40, **kw)
    return values


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"FRANCECONNECT_PRESET": "fc-v1"}, "PRESET"),
        ({"FRANCECONNECT_ISSUER": "https://fc.example/api/v2"}, "CLIENT_ID"),
        (
            {"FRANCECONNECT_ISSUER": "http://fc.example/api/v2", "FRANCECONNECT_CLIENT_ID": "a",
             "FRANCECONNECT_CLIENT_SECRET": "b"},
            "https",
        ),
        (
            {"FRANCECONNECT_ISSUER": "http://127.0.0.1:5200/api/v2", "FRANCECONNECT_CLIENT_ID": "a",
             "FRANCECONNECT_CLIENT_SECRET": "b", "ENV": "production",
             "ISSUER": "https://idp.example", "SMS_BACKEND": "x.Y"},
            "https",
        ),
        (
            {"FRANCECONNECT_ISSUER": "https://fc.example/api/v2", "FRANCECONNECT_CLIENT_ID": "a",
             "FRANCECONNECT_CLIENT_SECRET": "b", "FRANCECONNECT_ACR": "eidas2"},
            "ACR",
        ),
        ({"FEDERATION_ENC_ALG": "RSA1_5"}, "ENC_ALG"),
    ],
)  # fmt: skip
def test_unsafe_upstream_settings_fail_at_start_up(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(settings(**overrides))


def test_loopback_stand_in_is_accepted_in_development():
    validate_config(
        settings(
            FRANCECONNECT_ISSUER="http://127.0.0.1:5200/api/v2",
            FRANCECONNECT_CLIENT_ID="a",
            FRANCECONNECT_CLIENT_SECRET="b",
            FRANCECONNECT_PRESET="franceconnect-plus",
        )
    )


def client_for(preset: str, keys: KeySet, encryption=None) -> UpstreamClient:
    client = UpstreamClient(
        UpstreamSettings(
            name="franceconnect",
            issuer="https://fc.example/api/v2",
            client_id="me",
            client_secret="s",
            preset=PRESETS[preset],
            scopes="openid",
            acr="eidas2",
            timeout=1,
            cache_seconds=60,
        ),
        encryption,
    )
    client._jwks = (time.monotonic() + 60, keys)  # no network: the JWKS is already cached
    return client


def test_fc_plus_refuses_an_unencrypted_id_token():
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "k"})
    token = jwt.encode({"alg": "ES256", "kid": "k"}, {"sub": "x"}, key)
    with pytest.raises(UpstreamError) as caught:
        client_for("franceconnect-plus", KeySet([key])).verify_id_token(token, None, "eidas2")
    assert caught.value.reason == "bad_token"


def test_hs256_and_none_are_never_accepted():
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "k"})
    client = client_for("franceconnect", KeySet([key]))
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    # FC v1 signed with the client secret; v2 never does, so a forger could try.
    hs256 = jwt.encode({"alg": "HS256"}, {"sub": "x"}, OctKey.import_key("s" * 32))
    for token in (unsigned, hs256):
        with pytest.raises(UpstreamError) as caught:
            client.verify_id_token(token, None, None)
        assert caught.value.reason == "bad_token"


def test_encryption_keys_are_not_created_silently_in_production(tmp_path):
    with pytest.raises(NoEncryptionKey):
        EncryptionKeys(tmp_path, "RSA-OAEP-256", create_missing=False).public_jwks()
    store = EncryptionKeys(tmp_path, "RSA-OAEP-256", create_missing=True)
    first = store.public_jwks()["keys"][0]
    assert (tmp_path / "federation" / f"{first['kid']}.json").stat().st_mode & 0o777 == 0o600
    assert store.public_jwks()["keys"][0]["kid"] == first["kid"]  # created once


def test_cli_generates_lists_and_checks(fc, make_app):
    runner = fc.idp.test_cli_runner()
    generated = runner.invoke(args=["federation", "keys", "generate"])
    assert generated.exit_code == 0, generated.output
    kid = generated.output.split()[0]
    assert kid in runner.invoke(args=["federation", "keys", "list"]).output
    checked = runner.invoke(args=["federation", "check"])
    assert checked.exit_code == 0, checked.output
    assert fc.issuer in checked.output and "eidas1" in checked.output
    unconfigured = make_app().test_cli_runner().invoke(args=["federation", "check"])
    assert unconfigured.exit_code != 0 and "IDP_FRANCECONNECT_ISSUER" in unconfigured.output
