"""A portal's logo on the login and sign-up pages, allowed by the CSP for that page only."""

from __future__ import annotations

import re

import pytest

from idp.extensions import db
from idp.oidc.clients import get_client
from tests.factories import Flow

LOGO = "https://logos.example.fr/portails/ma-sante.png"


def set_logo(app, portal, uri):
    # Straight into the row: also stands for values stored before the console checked them.
    with app.app_context():
        get_client(portal.client_id).logo_uri = uri
        db.session.commit()


def img_src(response):
    policy = response.headers["Content-Security-Policy"]
    return re.search(r"img-src ([^;]*)", policy).group(1).split()


def login_page(client, portal, **params):
    response = Flow(client, portal).authorize(**params)
    assert response.status_code == 302
    return client.get(response.headers["Location"])


def test_the_login_page_shows_the_logo_and_allows_exactly_it(app, client, factories):
    portal = factories.portal(name="Ma Santé", journey="citoyen")
    set_logo(app, portal, LOGO)
    page = login_page(client, portal)
    assert page.status_code == 200
    assert f'<img src="{LOGO}" alt="Ma Santé"' in page.text
    assert img_src(page) == ["'self'", "data:", LOGO]
    # Other pages keep the strict policy.
    assert img_src(client.get("/connexion")) == ["'self'", "data:"]
    assert LOGO not in client.get("/connexion").text


def test_a_portal_without_a_logo_shows_none(app, client, factories):
    portal = factories.portal(name="Sans logo")
    page = login_page(client, portal)
    assert "<img" not in page.text.split("<main", 1)[-1].split("</main>")[0]
    assert img_src(page) == ["'self'", "data:"]


@pytest.mark.parametrize(
    "uri",
    [
        "http://logos.example.fr/logo.png",
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "https://logos.example.fr/logo.png; script-src *",
        "https://logos.example.fr/a,b.png",
        "https://user@logos.example.fr/logo.png",
        "//logos.example.fr/logo.png",
    ],
)
def test_a_logo_that_is_not_a_plain_https_url_is_not_shown_nor_allowed(app, client, factories, uri):
    portal = factories.portal(name="Portail douteux")
    set_logo(app, portal, uri)
    page = login_page(client, portal)
    assert page.status_code == 200
    assert "logos.example.fr" not in page.text and "alert(1)" not in page.text
    assert img_src(page) == ["'self'", "data:"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_query_string_stays_in_the_image_but_not_in_the_policy(app, client, factories):
    portal = factories.portal(name="Portail versionné")
    set_logo(app, portal, LOGO + "?v=2")
    page = login_page(client, portal)
    assert f'src="{LOGO}?v=2"' in page.text
    assert img_src(page) == ["'self'", "data:", LOGO]


def test_the_sign_up_pages_show_the_logo_too(app, client, factories):
    portal = factories.portal(name="Ma Santé", journey="citoyen")
    set_logo(app, portal, LOGO)
    start = Flow(client, portal).authorize(prompt="create")
    step = client.get(start.headers["Location"])
    page = client.get(step.headers["Location"])
    assert page.status_code == 200 and "/inscription/citoyen" in step.headers["Location"]
    assert f'<img src="{LOGO}" alt="Ma Santé"' in page.text
    assert img_src(page) == ["'self'", "data:", LOGO]
