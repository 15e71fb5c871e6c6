"""A person logs in to a demo portal through idp in Chromium, then logs out."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import PORTAL_NAME
from tests.e2e.conftest import playwright_sync

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

# For the lead to look at (/tmp/idp-login.png); never written into the repository.
SCREENSHOT = Path(tempfile.gettempdir()) / "idp-login.png"
ID_TOKEN_TABLE = "Contenu du jeton d'identité"
USERINFO_TABLE = "Réponse du point d'accès userinfo"


def _open_login_page(page, scene):
    """From the portal's home page to idp's login page, by the portal's button."""
    page.goto(scene.portal_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(PORTAL_NAME)
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{scene.idp_url}/connexion?*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
    expect(page.locator("p.fr-text--lead")).to_have_text(f"pour accéder à {PORTAL_NAME}")


def _submit(page, identifier: str, password: str) -> None:
    page.get_by_label("Identifiant").fill(identifier)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def _claim(page, caption: str, name: str):
    """The value cell of one claim in one of the portal's tables."""
    table = page.locator("table").filter(has=page.locator("caption", has_text=caption))
    row = table.locator("tr").filter(has=page.locator("code", has_text=re.compile(f"^{name}$")))
    return row.locator("td").nth(1)


def test_login_shows_claims_then_logout_returns_to_portal(page, scene):
    _open_login_page(page, scene)
    page.screenshot(path=SCREENSHOT, full_page=True)

    _submit(page, scene.identifier, scene.password)

    # Back on the portal: the callback exchanged the code, then showed the home page.
    page.wait_for_url(scene.portal_url)
    expect(page.get_by_text(f"Vous êtes connecté à {PORTAL_NAME}.")).to_be_visible()
    expect(page.get_by_text(f"Bonjour {scene.given_name}")).to_be_visible()
    for caption in (ID_TOKEN_TABLE, USERINFO_TABLE):
        expect(_claim(page, caption, "email")).to_have_text(scene.identifier)
        expect(_claim(page, caption, "given_name")).to_have_text(scene.given_name)
    expect(_claim(page, ID_TOKEN_TABLE, "iss")).to_have_text(scene.idp_url)
    sub = _claim(page, ID_TOKEN_TABLE, "sub").inner_text()
    expect(_claim(page, USERINFO_TABLE, "sub")).to_have_text(sub)
    sid = _claim(page, ID_TOKEN_TABLE, "sid").inner_text()

    # RP-initiated logout: portal → idp /logout → the portal's logged-out page.
    with page.expect_request(lambda r: r.url.startswith(f"{scene.idp_url}/logout?")) as sent:
        page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{scene.portal_url}logged-out?*")
    assert "id_token_hint" in parse_qs(urlsplit(sent.value.url).query)
    expect(page.get_by_role("heading", level=1)).to_have_text("Déconnexion")
    expect(page.get_by_text(f"Vous êtes déconnecté de {PORTAL_NAME}.")).to_be_visible()

    # The portal was told by the back channel, for this very session.
    received = scene.portals_app.extensions["demo_backchannel"]
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert received == [sid]

    # The SSO session is over: logging in again asks for the password.
    page.get_by_role("link", name=f"Retour à {PORTAL_NAME}").click()
    page.wait_for_url(scene.portal_url)
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{scene.idp_url}/connexion?*")


def test_wrong_password_shows_french_error_and_keeps_identifier(page, scene):
    _open_login_page(page, scene)

    _submit(page, scene.username, "not-the-password")

    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Identifiant ou mot de passe incorrect.")
    assert urlsplit(page.url).path == "/connexion"
    expect(page.get_by_label("Identifiant")).to_have_value(scene.username)
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")
    expect(page.locator("p.fr-text--lead")).to_have_text(f"pour accéder à {PORTAL_NAME}")

    # The page kept where to go next: the right password still reaches the portal.
    page.get_by_label("Mot de passe", exact=True).fill(scene.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(scene.portal_url)
    expect(page.get_by_text(f"Bonjour {scene.given_name}")).to_be_visible()


def test_every_login_input_has_autocomplete(page, scene):
    _open_login_page(page, scene)
    inputs = page.locator("input").evaluate_all(
        "els => els.map(e => ({id: e.id, name: e.name, type: e.type,"
        " autocomplete: e.getAttribute('autocomplete')}))"
    )
    assert len(inputs) >= 2
    missing = [i for i in inputs if i["autocomplete"] is None]
    assert not missing, f"<input> without autocomplete on the login page: {missing}"
    by_name = {i["name"]: i["autocomplete"] for i in inputs}
    assert by_name["identifier"] == "username"
    assert by_name["password"] == "current-password"
