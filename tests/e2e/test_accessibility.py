"""axe-core in Chromium over every idp page: no WCAG 2.1 A/AA violation (RGAA).

The pages are those of tests/test_every_page.py: its walks (every GET rule by each kind of
caller, then the sign-up journeys, second factor, consent, recovery, Mon compte and
FranceConnect flows, each form also after an invalid submit) run again here with a recorder,
and each recorded page is then shown in Chromium at its own path, its assets and scripts
served by idp (DSFR and idp's own), and checked by axe-core; a page with a new password
field is checked again once a weak password is typed (the live checklist and meter). A new
walk there is checked here without editing this file; each state of a page (its templates,
whether errors are shown, its fields) is checked once. The browser itself then goes through
the login from a demo portal (the portal's pages too) with its error states, also in the
dark colour scheme, and opens idp's error pages (404, OAuth error).

axe-core is a dev dependency (package.json) that the test injects: idp never serves it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.wrappers import Response

from tests import test_every_page as every_page
from tests.conftest import free_port
from tests.e2e.conftest import ACTION_TIMEOUT_MS
from tests.e2e.conftest import ServerThread
from tests.e2e.conftest import playwright_sync
from tests.federation.conftest import fc  # noqa: F401 (fixture of a walk)
from tests.federation.conftest import fc_smtp  # noqa: F401 (fixture)
from tests.smtp import smtp_server  # noqa: F401 (fixture of the walks)
from tests.test_every_page import Recorder
from tests.test_every_page import signup_app  # noqa: F401 (fixture of the walks)
from tests.test_every_route import upstream_app  # noqa: F401 (fixture)
from tests.test_every_route import world  # noqa: F401 (fixture of a walk)

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}

#: Violations that come from DSFR's own markup or CSS, which idp cannot change:
#: (rule id, target selector) -> why it is allowed. Never a whole rule.
ALLOWED: dict[tuple[str, str], str] = {}

#: The walks of tests/test_every_page.py: its tests that fill a recorder.
WALKS = [
    function
    for name, function in vars(every_page).items()
    if name.startswith("test_")
    and callable(function)
    and "recorder" in inspect.signature(function).parameters
]


def axe_violations(page, where: str) -> list[str]:
    """One entry per violation on the page shown: where, rule, impact, and each failing
    node's selector, markup and axe's reason, so that a failure says what to fix."""
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    found = []
    for violation in result["violations"]:
        nodes = []
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            if (violation["id"], target) in ALLOWED:
                continue
            why = " ".join(node.get("failureSummary", "").split())
            nodes.append(f"  - {target}\n    {node['html'][:300]}\n    {why[:300]}")
        if nodes:
            found.append(
                f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}\n"
                + "\n".join(nodes)
            )
    return found


def _context(browser):
    """A fresh context whose every page gets axe-core from node_modules, injected by
    Playwright before the page's own scripts (once per context: 0.2 s a page less than a
    script tag added to each page). It bypasses idp's CSP (script-src 'self'), which would
    refuse the injection; idp's pages have no inline script or style, so they render as
    under their CSP."""
    assert AXE.is_file(), f"{AXE} is missing: run scripts/install.sh (npm ci)"
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_init_script(path=str(AXE))
    return context


# -- 1. every page the walks of tests/test_every_page.py record ----------------------------


# A page shows errors: a field marked invalid, an error message or alert (DSFR classes).
ERROR_SHOWN = re.compile(
    r'aria-invalid="true"|fr-alert--error|fr-error-text|-group--error\b|fr-fieldset--error'
)
CONTROL_NAME = re.compile(r'<(?:input|select|textarea)\b[^>]*?\bname="([^"]+)"')


def state_of(recorded) -> tuple:
    """A page's state for axe: its templates, whether errors are shown, its fields. Pages
    in the same state differ by data only (another person, another portal, a token)."""
    fields = tuple(sorted(set(CONTROL_NAME.findall(recorded.html))))
    return recorded.templates, bool(ERROR_SHOWN.search(recorded.html)), fields


#: The states already checked clean in this session (the walks share pages): once each.
CHECKED: set[tuple] = set()


class RecordedPages:
    """Serves one recorded page at its own path, and everything else (DSFR, idp's CSS and
    scripts, what a page's script asks) from the real idp, on one origin."""

    def __init__(self, app):
        self.app = app
        self.path = None
        self.html = ""

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if self.path is not None and path + (f"?{query}" if query else "") == self.path:
            self.path = None  # once: a script's request to the same path goes to idp
            return Response(self.html, content_type="text/html; charset=utf-8")(
                environ, start_response
            )
        if not path.startswith("/static/"):
            return self.app(environ, start_response)

        def cached(status, headers, exc_info=None):
            # One download per context: idp's own files otherwise ask again at each page.
            headers = [(k, v) for k, v in headers if k.lower() not in ("cache-control", "expires")]
            return start_response(status, [*headers, ("Cache-Control", "max-age=3600")], exc_info)

        return self.app(environ, cached)


def _fixture_values(walk, request, recorder) -> dict:
    values = {}
    for name in inspect.signature(walk).parameters:
        if name == "recorder":
            values[name] = recorder
        elif name == "browser":  # in tests/test_every_page.py: a test client of signup_app
            values[name] = request.getfixturevalue("signup_app").test_client()
        else:
            values[name] = request.getfixturevalue(name)
    return values


#: The templates whose new password field was already checked with a password typed.
TYPED: set[tuple] = set()


def _type_weak_password(page) -> bool:
    """Types a weak new password and another confirmation, if the page asks a new one."""
    field = page.locator("input[data-password-policy]").first
    if not field.count():
        return False
    field.fill("motdepasse")
    confirm = page.locator("input[data-confirm-of]").first
    if confirm.count():
        confirm.fill("autre")
    return True


@pytest.fixture(scope="module")
def recorded_pages(e2e_app) -> Iterator[tuple[RecordedPages, str]]:
    server = RecordedPages(e2e_app)
    with ServerThread(server, free_port()) as origin:
        yield server, origin.url


@pytest.mark.parametrize("walk", WALKS, ids=[w.__name__.removeprefix("test_") for w in WALKS])
def test_every_page_of_the_walk_passes_axe(walk, request, browser, recorded_pages):
    recorder = Recorder()
    values = _fixture_values(walk, request, recorder)
    with recorder.on():
        walk(**values)
    assert recorder.pages, "the walk recorded no page"
    server, origin = recorded_pages
    failures = []
    context = _context(browser)
    try:
        page = context.new_page()
        for recorded in recorder.pages:
            key = state_of(recorded)
            if key in CHECKED:
                continue
            where = f"{recorded.url} [{', '.join(recorded.templates)}]"
            server.path, server.html = recorded.url.split(" ", 1)[1], recorded.html
            page.goto(origin + server.path)
            found = axe_violations(page, where)
            if recorded.templates not in TYPED and _type_weak_password(page):
                TYPED.add(recorded.templates)
                found += axe_violations(page, f"{where}, a weak password typed")
            failures += found
            if not found:
                CHECKED.add(key)
    finally:
        context.close()
    assert not failures, "\n".join(failures)


# -- 2. through the browser: a demo portal, the login and its errors, error pages ----------


def test_login_from_a_portal_and_error_pages_pass_axe(browser, scene):
    context = _context(browser)
    failures = []
    try:
        page = context.new_page()

        def check(what: str) -> None:
            failures.extend(axe_violations(page, f"{what} ({page.url})"))

        def show_login_errors(password: str) -> None:
            page.get_by_label("Identifiant").fill(scene.identifier)
            page.get_by_label("Mot de passe", exact=True).fill(password)
            page.get_by_role("button", name="Se connecter").click()

        page.goto(scene.portal_url)
        check("demo portal, logged out")
        page.get_by_role("link", name="Se connecter").click()
        page.wait_for_url(f"{scene.idp_url}/connexion?*")
        login_url = page.url
        check("login page")
        page.get_by_role("button", name="Se connecter").click()  # nothing typed
        expect(page.locator(".fr-error-text").first).to_be_visible()
        check("login page, empty submit")
        show_login_errors("pas-le-bon-mot-de-passe")
        expect(page.locator(".fr-alert--error")).to_be_visible()
        check("login page, wrong password")
        # The same in the dark scheme (data-fr-scheme="system": DSFR follows the browser).
        page.emulate_media(color_scheme="dark")
        page.goto(login_url)
        expect(page.locator("html")).to_have_attribute("data-fr-theme", "dark")
        check("login page, dark")
        show_login_errors("pas-le-bon-mot-de-passe")
        expect(page.locator(".fr-alert--error")).to_be_visible()
        check("login page, wrong password, dark")
        page.emulate_media(color_scheme="light")
        show_login_errors(scene.password)
        page.wait_for_url(scene.portal_url)
        check("demo portal, logged in")
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{scene.portal_url}logged-out?*")
        check("demo portal, logged out page")
        base = urlsplit(scene.portal_url)
        page.goto(f"{base.scheme}://{base.netloc}/")
        check("demo portals index")
        page.goto(f"{scene.idp_url}/cette-page-n-existe-pas")
        check("idp 404 page")
        page.goto(f"{scene.idp_url}/authorize?client_id=inconnu&response_type=code")
        check("idp OAuth error page")
        # axe-core is the test's, never idp's.
        for path in ("/static/axe.min.js", "/static/vendor/axe.min.js"):
            assert page.request.get(scene.idp_url + path).status == 404
    finally:
        context.close()
    assert not failures, "\n".join(failures)


def test_axe_report_names_the_page_rule_and_failing_node(browser):
    """The checker itself: a page breaking two rules is reported with what to fix."""
    context = _context(browser)
    try:
        page = context.new_page()
        page.set_content(
            '<html lang="fr"><head><title>t</title></head><body><main><h1>Titre</h1>'
            '<p style="color:#bbb">pâle</p><input id="sans-nom"></main></body></html>'
        )
        found = axe_violations(page, "GET /essai")
    finally:
        context.close()
    report = "\n".join(found)
    assert len(found) == 2, report
    assert "GET /essai: color-contrast (serious)" in report
    assert '<p style="color:#bbb">pâle</p>' in report
    assert "GET /essai: label (critical)" in report
    assert "#sans-nom" in report
