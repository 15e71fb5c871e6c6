"""Every HTML page the app serves, checked against the layout and form rules of the foundation.

The rules (foundation issue; RGAA 11.13 and 8.x; DSFR): `<html lang>` in the page's language, a
title, one <h1>; every visible control carries a standard autocomplete token matching its
purpose and a label; no duplicate ids; every <img> has alt; every POST form carries its CSRF
token; the DSFR is served by idp itself. The pages are not listed here: every 200 text/html
answer of the app during the walks below is recorded (Flask's `request_finished` signal) and
checked, so a new page reached by these walks is checked without editing this file. The walks
are the GET rules of `app.url_map` (the machinery of tests/test_every_route.py) by each kind of
caller, then the flows that only show their pages after a POST (sign-up journeys, second
factor, consent, recovery, Mon compte).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import request
from flask import request_finished
from flask import request_started
from flask import template_rendered

from tests.account.conftest import login
from tests.auth.test_recovery import reset_link
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import link_in
from tests.factories import Flow
from tests.federation.conftest import fc  # noqa: F401 (fixture: the FranceConnect stand-in)
from tests.federation.conftest import fc_smtp  # noqa: F401 (fixture)
from tests.mfa.conftest import set_phone
from tests.smtp import smtp_server  # noqa: F401 (fixture)
from tests.test_every_route import _RULES
from tests.test_every_route import SKIPPED_ENDPOINTS
from tests.test_every_route import _fill
from tests.test_every_route import upstream_app  # noqa: F401 (fixture used by world)
from tests.test_every_route import world  # noqa: F401 (fixture)

TEMPLATES = Path(__file__).resolve().parent.parent / "idp" / "templates"

# -- the HTML spec's autofill field names (WHATWG HTML §4.10.18.7.1) -----------------------
FIELD_NAMES = {
    "name", "honorific-prefix", "given-name", "additional-name", "family-name",
    "honorific-suffix", "nickname", "username", "new-password", "current-password",
    "one-time-code", "organization-title", "organization", "street-address", "address-line1",
    "address-line2", "address-line3", "address-level4", "address-level3", "address-level2",
    "address-level1", "country", "country-name", "postal-code", "cc-name", "cc-given-name",
    "cc-additional-name", "cc-family-name", "cc-number", "cc-exp", "cc-exp-month",
    "cc-exp-year", "cc-csc", "cc-type", "transaction-currency", "transaction-amount",
    "language", "bday", "bday-day", "bday-month", "bday-year", "sex", "url", "photo",
}  # fmt: skip
CONTACT_FIELD_NAMES = {
    "tel", "tel-country-code", "tel-national", "tel-area-code", "tel-local",
    "tel-local-prefix", "tel-local-suffix", "tel-extension", "email", "impp",
}  # fmt: skip
CONTACT_KINDS = {"home", "work", "mobile", "fax", "pager"}


def autofill_field(value: str) -> str | None:
    """The field name of a standard autocomplete value ("off" for off), None if not one.

    Grammar: [section-*] [shipping|billing] [home|work|mobile|fax|pager] field [webauthn];
    the contact kind only before a contact field. Case-insensitive, like browsers."""
    tokens = value.lower().split()
    if tokens == ["off"]:
        return "off"
    if tokens and tokens[-1] == "webauthn":
        tokens.pop()
    if tokens and tokens[0].startswith("section-") and len(tokens[0]) > len("section-"):
        tokens.pop(0)
    if tokens and tokens[0] in ("shipping", "billing"):
        tokens.pop(0)
    if len(tokens) == 2 and tokens[0] in CONTACT_KINDS and tokens[1] in CONTACT_FIELD_NAMES:
        return tokens[1]
    if len(tokens) == 1 and tokens[0] in FIELD_NAMES | CONTACT_FIELD_NAMES:
        return tokens[0]
    return None


# The purpose of a field, read from its name (the names the idp forms use), and the token that
# purpose takes. A field whose name is not here may take any standard token or "off".
PURPOSES = {
    "identifier": "username",
    "username": "username",
    "current_password": "current-password",
    "legacy_password": "current-password",
    "new_password": "new-password",
    "password_confirm": "new-password",
    "new_password_confirm": "new-password",
    "email": "email",
    "email_confirm": "email",
    "code": "one-time-code",
    "given_name": "given-name",
    "family_name": "family-name",
    "usage_name": "family-name",
    "birthdate": "bday",
    "phone": "tel",
    "mobile": "tel",
    "landline": "tel",
    "postal_code": "postal-code",
    "postcode": "postal-code",
    "street_address": "street-address",
    "locality": "address-level2",
    "civility": "honorific-prefix",
    "organisation": "organization",
}


def expected_token(name: str, form_names: set[str]) -> str | None:
    if name == "password":
        # A password typed twice is being chosen; alone, it is the current one.
        return "new-password" if "password_confirm" in form_names else "current-password"
    return PURPOSES.get(name)


# -- parsing ------------------------------------------------------------------------------

HIDDEN_TYPES = {"hidden", "submit", "button", "checkbox", "radio", "image", "reset"}


@dataclass
class Form:
    attrs: dict
    names: set = field(default_factory=set)
    has_csrf: bool = False


@dataclass
class Control:
    tag: str
    attrs: dict
    form: Form | None


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.title = ""
        self.in_title = False
        self.h1 = 0
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.images: list[dict] = []
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.controls: list[Control] = []
        self.stylesheets: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attr_list):
        attrs = {k: (v if v is not None else "") for k, v in attr_list}
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "title":
            self.in_title = True
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "form":
            self.form = Form(attrs)
            self.forms.append(self.form)
        elif tag in ("input", "select", "textarea"):
            if self.form is not None:
                self.form.names.add(attrs.get("name", ""))
                if (
                    tag == "input"
                    and attrs.get("name") == "csrf_token"
                    and attrs.get("type") == "hidden"
                ):
                    self.form.has_csrf = True
            if tag != "input" or attrs.get("type", "text").lower() not in HIDDEN_TYPES:
                self.controls.append(Control(tag, attrs, self.form))
        elif tag == "link":
            if "stylesheet" in attrs.get("rel", "").split():
                self.stylesheets.append(attrs.get("href", ""))
            self.assets.append(attrs.get("href", ""))
        elif tag == "script" and "src" in attrs:
            self.assets.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        elif tag == "form":
            self.form = None

    def handle_data(self, data):
        if self.in_title:
            self.title += data


def _off_site(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) and parts.netloc != "localhost"


def problems_of(url: str, html: str) -> list[str]:
    """Every rule the page breaks, one line each."""
    page = PageParser()
    page.feed(html)
    page.close()
    found = []
    lang = "en" if re.search(r"[?&]ui_locales=en\b", url) else "fr"
    if page.lang != lang:
        found.append(f'<html lang="{page.lang}">, expected "{lang}"')
    if not page.title.strip():
        found.append("empty <title>")
    if page.h1 != 1:
        found.append(f"{page.h1} <h1>")
    for control in page.controls:
        name = control.attrs.get("name", "")
        what = f"<{control.tag} name={name!r} id={control.attrs.get('id')!r}>"
        value = control.attrs.get("autocomplete")
        if value is None:
            found.append(f"{what} has no autocomplete")
        else:
            token = autofill_field(value)
            names = control.form.names if control.form else set()
            # The console's fields are about someone else: "off" is right for them too.
            expected = None if url.split()[-1].startswith("/admin") else expected_token(name, names)
            if token is None:
                found.append(f"{what} autocomplete={value!r} is not a standard token")
            elif expected is not None and token != expected:
                found.append(f"{what} autocomplete={value!r}, its purpose is {expected!r}")
        labelled = control.attrs.get("id") in page.label_for or any(
            control.attrs.get(a) for a in ("aria-label", "aria-labelledby")
        )
        if not labelled:
            found.append(f"{what} has no label")
    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    if duplicates:
        found.append(f"duplicate ids {duplicates}")
    for image in page.images:
        if "alt" not in image:
            found.append(f"<img src={image.get('src')!r}> without alt")
    for form in page.forms:
        posts_here = form.attrs.get("method", "get").lower() == "post" and not _off_site(
            form.attrs.get("action", "")
        )
        if posts_here and not form.has_csrf:
            found.append(f"<form action={form.attrs.get('action')!r}> without csrf_token")
    if not any(
        href.startswith("/") and href.split("?")[0].endswith("/dsfr.min.css")
        for href in page.stylesheets
    ):
        found.append(f"no DSFR stylesheet served by idp in {page.stylesheets}")
    for asset in page.assets:
        if re.match(r"(?i)(https?:)?//", asset):
            found.append(f"asset from another site: {asset}")
    return found


# -- recording every page -----------------------------------------------------------------


@dataclass
class Page:
    url: str
    html: str
    templates: tuple[str, ...]


SEEN_TEMPLATES: set[str] = set()
WALKS_DONE: set[str] = set()


class Recorder:
    """Keeps every 200 text/html answer of any app while it is on, with its templates."""

    def __init__(self):
        self.pages: list[Page] = []
        self._templates: list[str] = []

    def _started(self, sender, **extra):
        self._templates = []

    def _rendered(self, sender, template, context, **extra):
        if template.name and not template.name.startswith(("mail/", "sms/")):
            self._templates.append(template.name)

    def _finished(self, sender, response, **extra):
        if sender.name != "idp":  # the FranceConnect stand-in's own pages
            return
        # The 200 pages, and the 4xx pages a person may see (a used link, a refusal).
        shown = response.status_code == 200 or 400 <= response.status_code < 500
        if shown and response.mimetype == "text/html":
            url = request.full_path.rstrip("?")
            html = response.get_data(as_text=True)
            self.pages.append(Page(f"{request.method} {url}", html, tuple(self._templates)))

    @contextmanager
    def on(self):
        with (
            request_started.connected_to(self._started),
            template_rendered.connected_to(self._rendered),
            request_finished.connected_to(self._finished),
        ):
            yield self

    def check(self, walk: str) -> None:
        assert self.pages, "no page recorded"
        failures = []
        for page in self.pages:
            SEEN_TEMPLATES.update(page.templates)
            for problem in problems_of(page.url, page.html):
                failures.append(f"{page.url} [{', '.join(page.templates)}]: {problem}")
        WALKS_DONE.add(walk)
        # One line per problem and page, without repeating a problem seen on the same template.
        assert not failures, "\n".join(dict.fromkeys(failures))


@pytest.fixture
def signup_app(make_app, smtp_server):  # noqa: F811
    """An app that mails the test SMTP server synchronously (codes and links)."""
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def browser(signup_app):
    return signup_app.test_client()


@pytest.fixture
def recorder():
    rec = Recorder()
    with rec.on():
        yield rec


def follow(client, url: str, hops: int = 4):
    """GET url, following idp's own redirects (a local Location) a few hops."""
    response = client.get(url)
    for _ in range(hops):
        location = response.headers.get("Location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            break
        parts = urlsplit(location)
        if parts.netloc and parts.netloc != "localhost":
            break
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    return response


# -- 1. the GET rules of the URL map, by each kind of caller --------------------------------

# Machine endpoints: JSON, JWKS, CSV, the OIDC endpoints that answer redirects or JSON.
MACHINE = re.compile(r"^(api\.|oidc\.(discovery|jwks|token|userinfo|revoke|introspect)$)")
GET_RULES = [
    (path, endpoint)
    for path, endpoint, methods in _RULES
    if "GET" in methods
    and endpoint not in SKIPPED_ENDPOINTS | {"zxcvbn_static"}
    and not MACHINE.match(endpoint)
    and not path.endswith((".json", ".csv", ".js"))
]


def test_every_get_page_by_every_caller(world, recorder):  # noqa: F811
    for path, _ in GET_RULES:
        url = _fill(path, lambda conv, name: world.plausible.get(name, "x"))
        follow(world.anonymous_client, url)
        follow(world.person_client, url)
        if path.startswith("/admin"):
            follow(world.operator_client, url)
    # The admin person page of someone, and the login page, in English.
    follow(world.operator_client, f"/admin/personnes/{world.person.id}")
    follow(world.operator_client, "/admin/personnes?q=curie")
    for url in ("/connexion", "/mot-de-passe-oublie", "/identifiant-oublie", "/"):
        follow(world.anonymous_client, f"{url}?ui_locales=en")
    assert any("?ui_locales=en" in page.url for page in recorder.pages)
    recorder.check("routes")


# -- 2. the pages reached after a POST ------------------------------------------------------


def test_citoyen_journey_pages(signup_app, browser, smtp_server, recorder):  # noqa: F811
    from tests.enrolment.test_citoyen import fill_to_activation

    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {})  # the page again, with its errors
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", {})
    fill_to_activation(walker)
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "sms"})
    walker.get("/inscription/citoyen/code")
    walker.post("/inscription/citoyen/code", {"code": "000000"})
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    follow(browser, "/inscription/citoyen/courriel-envoye")
    link = link_in(smtp_server.wait(2)[-1])
    walker.get(link)
    walker.post(link, {})
    follow(browser, "/inscription/termine")
    walker.get(link)  # used: the link's state page
    # The SMS code, in another browser.
    other = Walker(browser.application.test_client())
    other.client.get("/inscription/citoyen")
    from tests.enrolment import test_citoyen

    identity = {
        **test_citoyen.IDENTITY,
        "email": "angela2@example.fr",
        "email_confirm": "angela2@example.fr",
    }
    other.get("/inscription/citoyen/profil")
    other.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    other.get("/inscription/citoyen/identite")
    other.post("/inscription/citoyen/identite", identity)
    other.get("/inscription/citoyen/identifiant")
    other.post("/inscription/citoyen/identifiant", {})
    recorder.check("citoyen")


def test_ameli_journey_pages(signup_app, browser, factories, smtp_server, recorder):  # noqa: F811
    from tests.enrolment.test_ameli import CODE
    from tests.enrolment.test_ameli import CONTACT
    from tests.enrolment.test_ameli import identify
    from tests.enrolment.test_ameli import seed_registry

    seed_registry(signup_app)
    walker = Walker(browser)
    browser.get("/inscription/ameli")
    walker.get("/inscription/ameli/identification")
    walker.post("/inscription/ameli/identification", {})
    identify(walker)
    walker.get("/inscription/ameli/conditions")
    walker.post("/inscription/ameli/conditions", {"accept": "oui"})
    walker.get("/inscription/ameli/code-personnel")
    walker.post("/inscription/ameli/code-personnel", {"password": "x"})
    walker.post("/inscription/ameli/code-personnel", {"password": CODE, "password_confirm": CODE})
    walker.get("/inscription/ameli/coordonnees")
    walker.post("/inscription/ameli/coordonnees", {})
    walker.post("/inscription/ameli/coordonnees", CONTACT)
    follow(browser, "/inscription/ameli/courriel-envoye")
    refused = Walker(signup_app.test_client())
    refused.client.get("/inscription/ameli")
    identify(refused)
    refused.get("/inscription/ameli/conditions")
    refused.post("/inscription/ameli/conditions", {"accept": "non"}, follow=True)
    recorder.check("ameli")


def test_ars_interne_journey_pages(signup_app, browser, smtp_server, recorder):  # noqa: F811
    from tests.enrolment.test_ars_interne import FINALISE
    from tests.enrolment.test_ars_interne import begin

    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    walker.get("/inscription/ars-interne/compte")
    walker.post("/inscription/ars-interne/compte", {})
    begin(browser, walker)
    follow(browser, "/inscription/ars-interne/courriel-envoye")
    link = link_in(smtp_server.wait(1)[0])
    page = Walker(signup_app.test_client())
    page.get(link)
    page.post(link, {**FINALISE, "password_confirm": "autre"})
    page.post(link, FINALISE)
    recorder.check("ars-interne")


def test_pro_sante_journey_pages(signup_app, browser, smtp_server, recorder):  # noqa: F811
    from tests.enrolment.test_pro_sante import REQUEST
    from tests.enrolment.test_pro_sante import STEP
    from tests.enrolment.test_pro_sante import seed_registry
    from tests.enrolment.test_pro_sante import sign_up

    seed_registry(signup_app)
    walker = Walker(browser)
    browser.get("/inscription/pro-sante")
    walker.get(STEP)
    walker.post(STEP, {})
    sign_up(browser)
    follow(browser, "/inscription/pro-sante/courriel-envoye")
    link = link_in(smtp_server.wait(1)[0])
    walker.get(link)
    follow(browser, "/professionnels/conditions-generales-d-utilisation")
    request_page = Walker(signup_app.test_client())
    request_page.get(REQUEST)
    request_page.post(REQUEST, {}, follow=True)
    recorder.check("pro-sante")


def test_mon_espace_sante_journey_pages(signup_app, browser, factories, smtp_server, recorder):  # noqa: F811
    from tests.enrolment import test_mon_espace_sante as mes

    with signup_app.app_context():
        import io

        from idp.extensions import db
        from idp.registry.services import import_csv

        import_csv("insured", io.StringIO(mes.CSV))
        db.session.commit()
    portal = factories.portal(journey="mon-espace-sante", name="Mon espace santé", scope=mes.SCOPE)
    mes.start(browser, portal)
    walker = Walker(browser)
    walker.get(f"{mes.BASE}/commencer")
    walker.post(f"{mes.BASE}/commencer", {})
    walker.get(f"{mes.BASE}/date-naissance")
    walker.post(f"{mes.BASE}/date-naissance", {})
    mes.to_contacts(walker, smtp_server)
    contacts = walker.get(f"{mes.BASE}/coordonnees")
    edit = re.search(r'href="([^"]+)"[^>]*>Modifier mon adresse e-mail', contacts.text).group(1)
    walker.get(edit)
    walker.post(edit, {"email": "angela@nouveau.fr", "email_confirm": "autre@nouveau.fr"})
    walker.get(f"{mes.BASE}/coordonnees")
    walker.post(f"{mes.BASE}/coordonnees", {"mobile": "06 12 34 56 78"})
    walker.get(f"{mes.BASE}/identifiant")
    walker.post(f"{mes.BASE}/identifiant", {})
    mes.choose_credentials(walker)
    follow(browser, f"{mes.BASE}/profil-active")
    # The opposition journey, by another insured person.
    other = signup_app.test_client()
    mes.oppose(other, smtp_server, person=mes.PAUL, to="paul.leroy@example.fr")
    recorder.check("mon-espace-sante")


def test_second_factor_pages(signup_app, browser, factories, recorder):
    from tests.mfa.conftest import SETUP
    from tests.mfa.conftest import VERIFY
    from tests.mfa.conftest import enable_totp
    from tests.mfa.conftest import post_password
    from tests.mfa.conftest import set_phone
    from tests.mfa.conftest import totp_now
    from tests.mfa.conftest import verify

    mfa_app = signup_app
    person = factories.account()
    secret = enable_totp(mfa_app, person.id)
    set_phone(mfa_app, person.id)
    post_password(browser, person)
    for method in ("", "?methode=totp", "?methode=recovery", "?methode=sms", "?methode=mail"):
        follow(browser, VERIFY + method)
    walker = Walker(browser)
    walker.get(VERIFY)
    walker.post(VERIFY, {"code": "000000"})
    verify(browser, totp_now(secret))
    for url in (
        SETUP,
        SETUP + "/desactiver",
        "/mon-compte/double-authentification/codes-de-secours",
        "/mon-compte",
    ):
        follow(browser, url)
    walker.get("/mon-compte/double-authentification/codes-de-secours")
    walker.post("/mon-compte/double-authentification/codes-de-secours", {"password": "x"})
    walker.post(
        "/mon-compte/double-authentification/codes-de-secours", {"password": person.password}
    )
    # Someone without a second factor setting one up.
    other_person = Walker(mfa_app.test_client())
    from tests.factories import Factories

    newcomer = Factories(mfa_app).account(email="nouveau@example.fr")
    login(other_person.client, newcomer)
    other_person.get(SETUP)
    other_person.post(SETUP, {"code": "000000"})
    recorder.check("second factor")


def test_consent_and_logout_pages(client, factories, recorder):
    person = factories.account()
    portal = factories.portal(name="Portail citoyen", require_consent=True)
    flow = Flow(client, portal)
    response = flow.login(flow.authorize(), person.email, person.password)
    follow(client, response.headers["Location"])
    # A level no code of idp's reaches (eidas3): the page offering another way.
    Flow(client, factories.portal(client_id="haut", min_acr="eidas3")).authorize()
    follow(client, "/logout")
    follow(client, "/deconnexion")
    recorder.check("consent")


def test_recovery_pages(make_app, smtp_server, factories, recorder):  # noqa: F811
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)
    person = factories.account()
    set_phone(app, person.id)
    walker = Walker(app.test_client())
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {})
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"})
    follow(walker.client, walker.page.headers.get("Location", "/mot-de-passe-oublie"))

    link = reset_link(smtp_server.wait(1)[0])
    walker.get(link)
    walker.post(link, {"new_password": "x"})
    sms = Walker(app.test_client())
    sms.get("/mot-de-passe-oublie")
    sms.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "sms"})
    sms.get("/mot-de-passe-oublie/code")
    sms.post("/mot-de-passe-oublie/code", {"code": "000000"})
    ident = Walker(app.test_client())
    ident.get("/identifiant-oublie")
    ident.post("/identifiant-oublie", {})
    ident.post("/identifiant-oublie", {"email": person.email}, follow=True)
    recorder.check("recovery")


def test_mon_compte_pages(signup_app, smtp_server, factories, recorder):  # noqa: F811
    from tests.lifecycle.conftest import post_login
    from tests.lifecycle.conftest import two_factor_session
    from tests.lifecycle.test_closer_phone_change import ask as ask_phone
    from tests.lifecycle.test_deletion import CANCEL
    from tests.lifecycle.test_email_change import NEW
    from tests.lifecycle.test_email_change import ask as ask_email
    from tests.lifecycle.test_email_change import link_of

    app = signup_app
    person = factories.account()
    walker = two_factor_session(app, person)  # Mon compte's changes ask for one
    for url in (
        "/mon-compte/adresse-electronique",
        "/mon-compte/mot-de-passe",
        "/mon-compte/telephone-mobile",
    ):
        walker.get(url)
        walker.post(url, {})  # the page again, with its errors
    ask_email(walker)
    link = link_of(next(m for m in smtp_server.wait(2) if m.rcpt_tos == [NEW]))
    Walker(app.test_client()).get(link)
    ask_phone(walker)
    follow(walker.client, "/mon-compte/telephone-mobile/code")
    walker.get("/mon-compte/suppression")
    walker.post("/mon-compte/suppression", {})
    walker.post("/mon-compte/suppression", {"current_password": person.password})
    client = app.test_client()
    post_login(client, person.email, person.password)
    follow(client, CANCEL)
    recorder.check("mon compte")


def test_franceconnect_pages(fc, recorder):  # noqa: F811
    from tests.federation.test_login import local_account

    newcomer = fc.browser()
    newcomer.fc_login("pierre-paul")
    newcomer.submit("/federation/franceconnect/creer-mon-compte", {})  # with its errors
    local_account(fc)
    known = fc.browser()
    known.fc_login("angela")
    known.submit("/federation/franceconnect/lier-mon-compte", {"password": "nope"})
    # An Assurance maladie portal asks the NIR after the sign-up.
    from tests.federation.conftest import sign_up
    from tests.federation.test_proof import portal_login

    insured, _flow, _next = portal_login(fc, "ameli")
    insured.choose("louise")
    sign_up(insured, "louise@example.fr")
    insured.follow()
    recorder.check("franceconnect")


# -- 3. which templates were reached ---------------------------------------------------------

# The templates with a <form> no walk above reaches, and why.
NOT_REACHED: dict[str, str] = {}


def _form_templates() -> set[str]:
    return {
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if "<form" in path.read_text(encoding="utf-8")
        and not path.name.startswith("_")
        and not str(path.relative_to(TEMPLATES)).startswith(("mail/", "macros/"))
    }


def test_every_form_template_was_reached():
    walks = {
        "routes", "citoyen", "ameli", "ars-interne", "pro-sante", "mon-espace-sante",
        "second factor", "consent", "recovery", "mon compte", "franceconnect",
    }  # fmt: skip
    # The walks above fill SEEN_TEMPLATES: this module runs whole, in order (pytest's default).
    assert walks == WALKS_DONE, f"run the whole module: only {sorted(WALKS_DONE)} ran"
    missing = sorted(_form_templates() - SEEN_TEMPLATES)
    assert missing == sorted(NOT_REACHED), "\n".join(missing)


def test_the_checks_catch_each_rule_broken():
    """The checker itself: a page breaking every rule once gets one line per rule."""
    html = """<!doctype html><html lang="en"><head><title> </title>
    <link rel="stylesheet" href="https://cdn.example/dsfr.min.css"></head><body>
    <h1>a</h1><h1>b</h1><img src="x.png"><p id="d"></p><p id="d"></p>
    <form method="post" action="/connexion">
      <label for="identifier">x</label><input id="identifier" name="identifier" autocomplete="email">
      <label for="password">x</label>
      <input id="password" name="password" type="password" autocomplete="current_password">
      <input id="q" name="q">
      <label for="ok">x</label><input id="ok" name="ok" autocomplete="mobile tel">
    </form></body></html>"""
    found = problems_of("GET /connexion", html)
    assert found == [
        '<html lang="en">, expected "fr"',
        "empty <title>",
        "2 <h1>",
        "<input name='identifier' id='identifier'> autocomplete='email', its purpose is 'username'",
        "<input name='password' id='password'> autocomplete='current_password' is not a standard token",
        "<input name='q' id='q'> has no autocomplete",
        "<input name='q' id='q'> has no label",
        "duplicate ids ['d']",
        "<img src='x.png'> without alt",
        "<form action='/connexion'> without csrf_token",
        "no DSFR stylesheet served by idp in ['https://cdn.example/dsfr.min.css']",
        "asset from another site: https://cdn.example/dsfr.min.css",
    ]
    assert autofill_field("section-a shipping street-address") == "street-address"
    assert autofill_field("home email webauthn") == "email"
    assert autofill_field("home given-name") is None  # a contact kind only before tel, email…
    assert autofill_field("on") is None
