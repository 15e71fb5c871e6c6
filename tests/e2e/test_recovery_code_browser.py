"""In Chromium: a person who lost their phone logs in to a portal with a recovery code,
which then no longer works (tests/e2e fixtures)."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.mfa import services
from idp.models import Account
from idp.models import utcnow
from tests.e2e.conftest import EMAIL
from tests.e2e.conftest import PORTAL_NAME
from tests.e2e.conftest import playwright_sync

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect


def _enable_app_with_codes(app) -> list[str]:
    with app.app_context():
        account_id = db.session.scalar(db.select(Account.id).where(Account.email == EMAIL))
        cred = services.start_totp(account_id)
        cred.enabled_at = utcnow()
        codes = services.regenerate_recovery_codes(account_id, None)
        db.session.commit()
        return codes


def _to_second_factor(page, scene) -> None:
    page.goto(scene.portal_url)
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{scene.idp_url}/connexion?*")
    page.get_by_label("Identifiant").fill(scene.identifier)
    page.get_by_label("Mot de passe", exact=True).fill(scene.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{scene.idp_url}/connexion/verification*")
    page.get_by_role("link", name="Utiliser un code de secours").click()


def test_log_in_with_a_recovery_code_once(browser, e2e_app, page, scene):
    codes = _enable_app_with_codes(e2e_app)
    _to_second_factor(page, scene)
    page.get_by_label("Code de secours").fill(codes[0])
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url(scene.portal_url)
    expect(page.get_by_text(f"Vous êtes connecté à {PORTAL_NAME}.")).to_be_visible()

    # The same code, in another browser: refused, the login does not go through.
    other = browser.new_context(locale="fr-FR")
    try:
        again = other.new_page()
        _to_second_factor(again, scene)
        again.get_by_label("Code de secours").fill(codes[0])
        again.get_by_role("button", name="Valider").click()
        expect(again.get_by_role("alert")).to_contain_text(
            "Ce code est incorrect ou n'est plus valable."
        )
        # Another code of the list still works.
        again.get_by_label("Code de secours").fill(codes[1])
        again.get_by_role("button", name="Valider").click()
        again.wait_for_url(scene.portal_url)
    finally:
        other.close()
