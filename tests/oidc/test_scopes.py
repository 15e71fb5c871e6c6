"""Claims released by scope, in the ID token and at userinfo: their claims and nothing more."""

import datetime as dt

import pytest

from idp.models import utcnow
from tests.factories import Flow
from tests.oidc.helpers import bearer
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import update_account

PROTOCOL_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid"}
PROTOCOL_CLAIMS |= {"at_hash"}
PROFILE = {
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "birthdate",
    "gender",
    "updated_at",
    "locale",
}
EMAIL = {"email", "email_verified"}
PHONE = {"phone_number", "phone_number_verified"}
ADDRESS = {"address"}


@pytest.fixture
def person(app, factories):
    person = factories.account(username="mcurie", birthdate=dt.date(1867, 11, 7))
    update_account(
        app,
        person.id,
        gender="female",
        phone="+33612345678",
        phone_verified_at=utcnow(),
        street_address="11 rue Pierre et Marie Curie",
        postal_code="75005",
        locality="Paris",
        country="FR",
    )
    return person


def released(client, factories, person, scope: str) -> tuple[dict, dict]:
    flow = Flow(client, factories.portal())
    tokens = flow.tokens(person, scope=scope)
    assert set(tokens["scope"].split()) == set(scope.split())
    info = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200, info.text
    return id_token_claims(client, tokens), info.get_json()


@pytest.mark.parametrize(
    ("module", "scope", "expected"),
    [
        ("oidcc-server", "openid", set()),
        ("oidcc-scope-profile", "openid profile", PROFILE),
        ("oidcc-scope-email", "openid email", EMAIL),
        ("oidcc-scope-phone", "openid phone", PHONE),
        ("oidcc-scope-address", "openid address", ADDRESS),
        (
            "oidcc-scope-all",
            "openid profile email phone address",
            PROFILE | EMAIL | PHONE | ADDRESS,
        ),
    ],
)
def test_scope_returns_its_claims_and_nothing_more(
    client, factories, person, module, scope, expected
):
    """oidcc-scope-profile, oidcc-scope-email, oidcc-scope-phone, oidcc-scope-address,
    oidcc-scope-all (the module of each case is its first parameter)."""
    id_claims, info = released(client, factories, person, scope)
    assert set(info) == {"sub"} | expected, module
    assert set(id_claims) - PROTOCOL_CLAIMS == expected, module


def test_profile_claims_have_the_account_values(client, factories, person):
    """oidcc-scope-profile"""
    _, info = released(client, factories, person, "openid profile")
    assert info["name"] == "Marie CURIE"
    assert info["given_name"] == "Marie" and info["family_name"] == "CURIE"
    assert info["preferred_username"] == "mcurie"
    assert info["birthdate"] == "1867-11-07"
    assert info["gender"] == "female"
    assert isinstance(info["updated_at"], int)


def test_email_claims_have_the_account_values(client, factories, person):
    """oidcc-scope-email"""
    _, info = released(client, factories, person, "openid email")
    assert info == {"sub": person.sub, "email": person.email, "email_verified": True}


def test_phone_claims_have_the_account_values(client, factories, person):
    """oidcc-scope-phone"""
    _, info = released(client, factories, person, "openid phone")
    assert info["phone_number"] == "+33612345678"
    assert info["phone_number_verified"] is True


def test_address_claim_is_a_json_object(client, factories, person):
    """oidcc-scope-address (OIDC Core 5.1.1)"""
    _, info = released(client, factories, person, "openid address")
    assert info["address"] == {
        "street_address": "11 rue Pierre et Marie Curie",
        "postal_code": "75005",
        "locality": "Paris",
        "country": "FR",
        "formatted": "11 rue Pierre et Marie Curie\n75005 Paris",
    }


def test_scope_beyond_the_portal_registration_is_dropped(client, factories, person):
    portal = factories.portal(scope="openid email")
    tokens = Flow(client, portal).tokens(person, scope="openid email phone")
    assert set(tokens["scope"].split()) == {"openid", "email"}
    info = client.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "phone_number" not in info
