"""A person enables an authenticator app in Mon compte, then logs in with password + code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.e2e.conftest import PORTAL_NAME
from tests.e2e.conftest import playwright_sync

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect
ID_TOKEN_TABLE = "Contenu du jeton d'identité"


def _claim(page, caption: str, name: str):
    table = page.locator("table").filter(has=page.locator("caption", has_text=caption))
    row = table.locator("tr").filter(has=page.locator("code", has_text=re.compile(f"^{name}$")))
    return row.locator("td").nth(1)


def _password(page, scene) -> None:
    page.get_by_label("Identifiant").fill(scene.identifier)
    page.get_by_label("Mot de passe", exact=True).fill(scene.password)
    page.get_by_role("button", name="Se connecter").click()


def test_enrol_an_app_then_log_in_with_password_and_code(page, scene):
    page.goto(f"{scene.idp_url}/connexion?next=/mon-compte")
    _password(page, scene)
    page.wait_for_url(f"{scene.idp_url}/mon-compte")

    # Mon compte → enable the app: the QR code, and the secret as text for typing.
    page.get_by_role("link", name="Activer une application d'authentification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Activer une application d'authentification"
    )
    expect(page.locator(".idp-qr svg")).to_be_visible()
    secret = page.locator("[data-totp-secret]").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)

    page.get_by_label("Code à 6 chiffres affiché par l'application").fill("000000")
    page.get_by_label("Mot de passe actuel").fill(scene.password)
    page.get_by_role("button", name="Activer").click()
    expect(page.get_by_role("alert")).to_contain_text("Ce code est incorrect.")
    page.get_by_label("Code à 6 chiffres affiché par l'application").fill(totp.now())
    page.get_by_label("Mot de passe actuel").fill(scene.password)
    page.get_by_role("button", name="Activer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Vos codes de secours")
    codes = page.locator("[data-recovery-codes] code")
    expect(codes).to_have_count(10)
    page.get_by_role("link", name="J'ai conservé mes codes").click()
    expect(page.locator("[data-totp='enabled']")).to_be_visible()

    # Log out, then log in to the portal: the password, then a code of the app.
    page.goto(f"{scene.idp_url}/deconnexion")
    page.get_by_role("button", name="Se déconnecter").click()
    page.goto(scene.portal_url)
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{scene.idp_url}/connexion?*")
    _password(page, scene)
    page.wait_for_url(f"{scene.idp_url}/connexion/verification")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérification en deux étapes")
    # The code used at enrolment cannot be replayed: type the app's next one.
    page.get_by_label("Code à 6 chiffres").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Valider").click()

    page.wait_for_url(scene.portal_url)
    expect(page.get_by_text(f"Vous êtes connecté à {PORTAL_NAME}.")).to_be_visible()
    expect(_claim(page, ID_TOKEN_TABLE, "acr")).to_have_text("eidas2")
    expect(_claim(page, ID_TOKEN_TABLE, "amr")).to_contain_text("otp")
