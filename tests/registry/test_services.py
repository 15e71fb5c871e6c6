"""Matching an insured person or a professional, and their codes and legacy passwords."""

import hashlib
from datetime import date

import pytest

from idp.extensions import db
from idp.registry import legacy
from idp.registry.models import LetterRequest
from idp.registry.services import check_confidential_code
from idp.registry.services import check_legacy_password
from idp.registry.services import children_of
from idp.registry.services import find_insured_by_nir
from idp.registry.services import find_professional
from idp.registry.services import forget_legacy_password
from idp.registry.services import mask_nir
from idp.registry.services import match_insured
from idp.registry.services import match_insured_card
from idp.registry.services import new_confidential_code
from idp.registry.services import queue_letter
from tests.registry.conftest import ELOISE
from tests.registry.conftest import JEAN_PIERRE
from tests.registry.conftest import LEA
from tests.registry.conftest import PAUL
from tests.registry.conftest import spaced

ELOISE_BORN = date(1985, 3, 14)


@pytest.fixture
def insured(load):
    load("insured", "insured.csv")


@pytest.fixture
def professionals(load):
    load("professional", "professionals.csv")


def ameli(**changes):
    fields = {"nir": ELOISE, "family_name": "d'Aubigné-Laval", "birthdate": ELOISE_BORN}
    return match_insured(**{**fields, "postcode": "75011", **changes})


def test_find_by_nir_accepts_spaces_and_corsican_numbers(insured):
    assert find_insured_by_nir(spaced(ELOISE)).given_names == "Éloïse Marie"
    assert find_insured_by_nir(JEAN_PIERRE.replace("2A", "2a")).birth_family_name == "Dupont"
    assert find_insured_by_nir(PAUL).postcode == "20200"
    assert find_insured_by_nir("285037511112306") is None  # wrong key
    assert find_insured_by_nir("199017505600142") is None  # valid, unknown
    assert find_insured_by_nir("") is None


@pytest.mark.parametrize(
    "name",
    [
        "d'Aubigné-Laval",
        "D AUBIGNE LAVAL",
        "d’aubigne laval",
        "  D'AUBIGNÉ - LAVAL ",
        "Martin",  # usage name
        "MARTIN",
    ],
)
def test_ameli_match_compares_names_normalised_birth_or_usage(insured, name):
    record = ameli(family_name=name)
    assert record is not None and record.nir() == ELOISE


@pytest.mark.parametrize(
    "changes",
    [
        {"nir": "285037511112403"},  # another valid NIR: unknown
        {"nir": "285037511112306"},  # bad key
        {"family_name": "Dubois"},
        {"family_name": ""},
        {"family_name": "Aubigné"},
        {"birthdate": date(1985, 3, 15)},
        {"postcode": "75012"},
        {"postcode": "pas un code"},
    ],
)
def test_ameli_match_fails_when_any_single_field_differs(insured, changes):
    assert ameli() is not None
    assert ameli(**changes) is None


def test_card_match_needs_nir_serial_and_birthdate(insured):
    record = match_insured_card(nir=ELOISE, card_serial="0102457612 4", birthdate=ELOISE_BORN)
    assert record is not None and record.email == "eloise@example.fr"
    assert record.mobile == "+33612345678"
    assert match_insured_card(nir=ELOISE, card_serial="01024576124", birthdate=ELOISE_BORN)
    assert match_insured_card(nir=ELOISE, card_serial="01024576125", birthdate=ELOISE_BORN) is None
    assert (
        match_insured_card(nir=ELOISE, card_serial="01024576124", birthdate=date(1985, 3, 1))
        is None
    )
    assert match_insured_card(nir=LEA, card_serial="01024576124", birthdate=ELOISE_BORN) is None
    # Léa has no card of her own: no serial ever matches.
    assert match_insured_card(nir=LEA, card_serial="", birthdate=date(2015, 6, 20)) is None


def test_children_of_a_parent(insured):
    eloise = find_insured_by_nir(ELOISE)
    children = children_of(eloise)
    assert [c.nir() for c in children] == [LEA]
    assert children[0].parent is eloise
    assert children_of(children[0]) == []


def test_mask_nir_keeps_sex_year_and_key_only():
    assert mask_nir(ELOISE) == "2 85 ** ** *** *** 05"
    assert mask_nir("123") == "*" * 15


def test_find_professional_and_confidential_code(professionals):
    claire = find_professional("75 000 001 0")
    assert claire.city == "Paris"
    assert find_professional("750000011") is None  # bad Luhn key
    assert find_professional("330000050") is None  # unknown
    assert check_confidential_code(claire, "4821 7730 1196")
    assert check_confidential_code(claire, "482177301196")
    assert not check_confidential_code(claire, "4821 7730 1197")
    assert not check_confidential_code(claire, "")
    assert "4821" not in claire.confidential_code_hash
    hugo = find_professional("130000029")
    assert hugo.confidential_code_hash is None and not check_confidential_code(hugo, "1234")


def test_new_confidential_code_replaces_the_old_one(professionals):
    claire = find_professional("750000010")
    code = new_confidential_code(claire)
    assert len(code.replace(" ", "")) == 12 and code.replace(" ", "").isdigit()
    assert check_confidential_code(claire, code)
    assert not check_confidential_code(claire, "4821 7730 1196")


@pytest.mark.parametrize(
    ("finess", "password"),
    [("130000029", "Ancien-Pass1"), ("690000039", "Mot2passe-é"), ("200000040", "Django-Pass3")],
)
def test_legacy_passwords_of_each_format(professionals, finess, password):
    record = find_professional(finess)
    assert check_legacy_password(record, password)
    assert not check_legacy_password(record, password + "x")
    assert not check_legacy_password(record, "")
    forget_legacy_password(record)
    db.session.commit()
    assert record.legacy_password_hash is None
    assert not check_legacy_password(record, password)


def test_legacy_format_details():
    sha256 = "{sha256}" + hashlib.sha256(b"pw").hexdigest().upper()
    assert legacy.verify(sha256, "pw")  # prefix and hex digits in any case
    assert not legacy.is_supported("{MD5}" + hashlib.md5(b"pw").hexdigest())  # noqa: S324
    assert not legacy.is_supported("{SSHA}not base64!")
    assert not legacy.is_supported("{SSHA}" + "QUJD")  # shorter than a SHA-1 digest
    assert not legacy.is_supported("pbkdf2_sha256$0$salt$" + "A" * 44)
    assert not legacy.is_supported("pbkdf2_sha256$99999999$salt$" + "A" * 44)
    assert not legacy.is_supported("pbkdf2_sha256$1000$salt$###")
    assert not legacy.verify("plain-text", "plain-text")


def test_queue_letter_reuses_a_pending_letter_of_the_same_kind(professionals):
    claire = find_professional("750000010")
    first = queue_letter(claire, "confidential_code")
    assert queue_letter(claire, "confidential_code") is first
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(LetterRequest)) == 1
    with pytest.raises(ValueError):
        queue_letter(claire, "birthday_card")
