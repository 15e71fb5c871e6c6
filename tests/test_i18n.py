"""English UI (Flask-Babel) and the health of the catalogue idp/translations/en.

The source strings are French; these tests fail when a French string is added or changed
without being translated: run scripts/i18n.sh, translate the entries it lists, run it again.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.enrolment.conftest import Walker
from tests.enrolment.test_citoyen import IDENTITY
from tests.factories import Flow

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "idp" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# Same command line as scripts/i18n.sh.
EXTRACT = ["-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext"]
# printf-style conversions: %(name)s, %(num)d, %s, %%…
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
FIX = f"run scripts/i18n.sh, translate the entries it lists in {PO.relative_to(ROOT)}, run it again"


def read_catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def catalog():
    return read_catalog(PO)


def entries(catalog):
    return [message for message in catalog if message.id]


def forms(message) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs: one for a simple entry, one per plural form otherwise."""
    if isinstance(message.id, str):
        return [(message.id, message.string or "")]
    ids = list(message.id)
    strings = list(message.string) if message.string else [""]
    return [(ids[min(i, len(ids) - 1)], s or "") for i, s in enumerate(strings)]


def as_tuple(value):
    """A .po gives plural ids and strings as tuples, a .mo as lists."""
    return value if isinstance(value, str) else tuple(value)


def visible_text(page) -> str:
    return html.unescape(page.text)


def untranslated_on(text: str, catalog) -> list[str]:
    """French msgids (long enough not to be ambiguous) still present in an English page."""
    left = []
    for message in entries(catalog):
        for msgid, msgstr in forms(message):
            if len(msgid) >= 12 and msgid != msgstr and "%" not in msgid and msgid in text:
                left.append(msgid)
    return left


# --- The pages ---------------------------------------------------------------------------


def test_login_page_in_english_with_ui_locales(client, catalog):
    page = client.get("/connexion?ui_locales=en")
    assert page.status_code == 200
    text = visible_text(page)
    assert '<html lang="en"' in page.text
    assert "Log in" in text and "Password" in text and "Create an account" in text
    assert "Se connecter" not in text and "Mot de passe" not in text
    assert untranslated_on(text, catalog) == []
    assert "République<br>Française" in page.text  # the logo stays French


def test_language_choice_sticks_for_the_session(client):
    client.get("/connexion?ui_locales=en")
    page = client.get("/connexion")
    assert '<html lang="en"' in page.text and "Log in" in page.text
    assert "Se connecter" not in page.text
    back = client.get("/connexion?ui_locales=fr")
    assert '<html lang="fr"' in back.text and "Se connecter" in back.text


def test_ui_locales_takes_the_first_supported_language(client):
    page = client.get("/connexion?ui_locales=de-DE en-GB fr")
    assert '<html lang="en"' in page.text and "Log in" in page.text


def test_browser_language_en_gb_gives_english(client):
    page = client.get("/connexion", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en"' in page.text and "Log in" in page.text
    assert "Se connecter" not in page.text


@pytest.mark.parametrize("accept", [None, "fr", "fr-FR,fr;q=0.9,en;q=0.5", "de"])
def test_default_and_french_give_french(client, accept):
    headers = {"Accept-Language": accept} if accept else {}
    page = client.get("/connexion", headers=headers)
    assert '<html lang="fr"' in page.text
    assert "Se connecter" in page.text and "Log in" not in page.text


def test_signup_step_in_english(client, catalog):
    start = client.get("/inscription/citoyen?ui_locales=en")
    assert start.status_code == 302
    assert start.headers["Location"] == "/inscription/citoyen/profil"
    page = client.get("/inscription/citoyen/profil")
    assert page.status_code == 200
    text = visible_text(page)
    assert '<html lang="en"' in page.text
    assert "Step 1 of 3" in text and "Étape" not in text
    assert "Continue" in text and "Continuer" not in text
    assert untranslated_on(text, catalog) == []


def test_portal_ui_locales_applies_to_login_and_signup(client, factories):
    """OIDC Core 3.1.2.1: ui_locales on /authorize applies to the pages that follow."""
    flow = Flow(client, factories.portal())
    login = flow.authorize(ui_locales="en-GB fr")
    assert login.status_code == 302 and login.headers["Location"].startswith("/connexion")
    page = client.get(login.headers["Location"])
    assert '<html lang="en"' in page.text and "Log in" in page.text
    signup = client.get(flow.authorize(prompt="create").headers["Location"])
    page = client.get(signup.headers["Location"])
    assert '<html lang="en"' in page.text and "Step 1 of 3" in visible_text(page)


def test_signup_validator_errors_and_password_rules_in_english(client, catalog):
    """Messages raised by the validators and the password checklist follow the page's language."""
    walker = Walker(client)
    walker.get("/inscription/citoyen?ui_locales=en")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    assert walker.page.headers["Location"] == "/inscription/citoyen/identite"
    walker.get("/inscription/citoyen/identite")
    identity = {**IDENTITY, "email_confirm": "angela.dubois@example.fr", "landline": ""}
    page = walker.post("/inscription/citoyen/identite", {**identity, "birthdate": "31/02/1990"})
    assert page.status_code == 200
    text = visible_text(page)
    assert '<html lang="en"' in page.text
    assert "This date does not exist." in text and "Cette date n'existe pas." not in text
    page = walker.post("/inscription/citoyen/identite", {**identity, "birthdate": "not a date"})
    assert "Invalid date: use the DD/MM/YYYY format." in visible_text(page)
    assert untranslated_on(visible_text(page), catalog) == []

    walker.post("/inscription/citoyen/identite", identity)
    assert walker.page.status_code == 302, walker.page.text
    page = walker.get("/inscription/citoyen/identifiant")
    assert page.status_code == 200
    text = visible_text(page)
    checklist = [
        "8 characters minimum",
        "1 capital letter",
        "1 digit",
        "No name, date of birth or identifier (not even in part)",
        'The "Medium" level',
    ]
    for label in checklist:
        assert label in text, label
    assert "caractères minimum" not in text and "1 majuscule" not in text
    policy = re.search(r'data-password-policy="([^"]*)"', page.text)
    assert policy, "no data-password-policy on the password field"
    data = json.loads(html.unescape(policy.group(1)))
    assert [label for _, label in data["rules"]] == checklist
    assert data["strength_labels"] == ["Very weak", "Weak", "Medium", "Strong", "Very strong"]
    assert untranslated_on(text, catalog) == []

    walker.post(
        "/inscription/citoyen/identifiant",
        {
            "username": "angela.dubois",
            "password": "abc",
            "password_confirm": "abc",
            "cgu": "y",
            "rgpd": "y",
        },
    )
    assert walker.page.status_code == 200
    assert "Enter at least 8 characters." in visible_text(walker.page)


# --- The catalogue -------------------------------------------------------------------------


def test_every_entry_is_translated(catalog):
    assert not catalog.fuzzy, f"the catalogue header is marked fuzzy: {FIX}"
    todo = [
        message.id
        for message in entries(catalog)
        if message.fuzzy or not all(msgstr.strip() for _, msgstr in forms(message))
    ]
    assert todo == [], f"{len(todo)} entries without an English translation ({FIX}): {todo}"


def test_plural_entries_have_both_english_forms(catalog):
    plurals = [m for m in entries(catalog) if m.pluralizable]
    assert plurals, "ngettext() strings are expected in the catalogue"
    assert catalog.num_plurals == 2
    for message in plurals:
        assert len(message.string) == 2 and all(message.string), message.id


def test_placeholders_match(catalog):
    wrong = []
    for message in entries(catalog):
        for msgid, msgstr in forms(message):
            same = Counter(PLACEHOLDER.findall(msgid)) == Counter(PLACEHOLDER.findall(msgstr))
            if not same or msgid.count("%") != msgstr.count("%"):
                wrong.append((msgid, msgstr))
    assert wrong == [], wrong


def test_catalogue_is_up_to_date_with_the_sources(catalog, tmp_path):
    """Every string marked for translation in idp/ is in the .po (new French strings too)."""
    pot = tmp_path / "messages.pot"
    done = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *EXTRACT, "-o", str(pot), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    extracted = {message.id for message in entries(read_catalog(pot))}
    assert len(extracted) > 100, "the extraction found almost nothing: check babel.cfg"
    known = {message.id for message in entries(catalog)}
    missing = sorted(extracted - known, key=str)
    assert missing == [], f"{len(missing)} strings not in the catalogue ({FIX}): {missing}"


def test_compiled_catalogue_matches_the_po(catalog):
    assert MO.is_file(), f"{MO.relative_to(ROOT)} is missing: run scripts/install.sh or {FIX}"
    with MO.open("rb") as f:
        compiled = read_mo(f)
    stale = [
        message.id
        for message in entries(catalog)
        if message.id not in compiled
        or as_tuple(compiled[message.id].string) != as_tuple(message.string)
    ]
    assert stale == [], f"the .mo is older than the .po ({FIX}): {stale}"


def test_no_message_is_completed_with_str_format(catalog):
    """A sentence glued from fragments cannot be translated, and str.format on a translation
    breaks (KeyError, a 500) when the translation contains braces: whole sentences with
    %(name)s placeholders only."""
    braced = [m.id for m in entries(catalog) if "python-brace-format" in m.flags]
    assert braced == [], FIX
