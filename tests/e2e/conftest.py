"""Browser fixtures: the real idp and the demo portals on loopback, driven by Chromium.

idp runs as its own app (issuer ``http://127.0.0.1:<port>``) on the test database of
the session ``app`` fixture, so that ``clean_tables`` empties what the browser tests
create. Each test gets a fresh portal registration, account, portals server and
browser context; the Chromium process and the idp server live for the session.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright import sync_api as playwright_sync  # a dev dependency: never skipped
from werkzeug.serving import make_server

from demo.portals import create_portals_app
from idp import create_app
from idp.accounts import create_account
from idp.extensions import db
from idp.oidc.clients import create_client
from tests.conftest import free_port
from tests.conftest import make_config

HOST = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright's timeout for one action or expectation, in milliseconds.
ACTION_TIMEOUT_MS = 5_000
SLUG = "ameli"
PORTAL_NAME = "ameli"
EMAIL = "marie.curie@example.fr"
USERNAME = "mcurie"
PASSWORD = "Correct-Horse-42"
GIVEN_NAME = "Marie"
FAMILY_NAME = "CURIE"


class ServerThread:
    """A werkzeug server running a WSGI app in a daemon thread on a free port."""

    def __init__(self, app, port: int) -> None:
        self.port = port
        self.server = make_server(HOST, port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _wait_for_backchannel_threads(timeout: float = 10.0) -> None:
    """Let idp's back-channel delivery threads finish before the tables are emptied."""
    for thread in threading.enumerate():
        if thread.name == "idp-backchannel":
            thread.join(timeout=timeout)


@pytest.fixture(scope="session")
def idp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def e2e_app(app, tmp_path_factory, idp_port):
    """idp with a loopback issuer, on the same database and keys as ``app``."""
    return create_app(
        make_config(
            tmp_path_factory,
            ISSUER=f"http://{HOST}:{idp_port}",
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
        )
    )


@pytest.fixture(scope="session")
def idp_server(e2e_app, idp_port) -> Iterator[str]:
    # The issuer names the port before the app exists: serve on that one.
    with ServerThread(e2e_app, idp_port) as server:
        yield server.url
    with e2e_app.app_context():
        db.session.remove()
        db.engine.dispose()


@dataclass
class Scene:
    """What one browser test works with."""

    idp_url: str
    portal_url: str
    portals_app: object
    identifier: str
    username: str
    password: str
    given_name: str


@pytest.fixture
def scene(e2e_app, idp_server) -> Iterator[Scene]:
    """A registered portal, an active account and the portals app serving them."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    with e2e_app.app_context():
        registered = create_client(
            name=PORTAL_NAME,
            client_id=f"e2e-{SLUG}",
            redirect_uris=[f"{base}/{SLUG}/callback"],
            post_logout_redirect_uris=[f"{base}/{SLUG}/logged-out"],
            backchannel_logout_uri=f"{base}/{SLUG}/backchannel-logout",
            scope="openid profile email phone address",
        )
        create_account(
            email=EMAIL,
            password=PASSWORD,
            username=USERNAME,
            given_name=GIVEN_NAME,
            family_name=FAMILY_NAME,
            active=True,
        )
        db.session.commit()
        client_id, client_secret = registered.client.client_id, registered.secret
    portals_app = create_portals_app(
        {
            "issuer": idp_server,
            "base_url": base,
            "secret_key": secrets.token_urlsafe(32),
            "portals": [
                {
                    "slug": SLUG,
                    "name": PORTAL_NAME,
                    "client_id": client_id,
                    "client_secret": client_secret,
                }
            ],
        }
    )
    with ServerThread(portals_app, port):
        yield Scene(
            idp_url=idp_server,
            portal_url=f"{base}/{SLUG}/",
            portals_app=portals_app,
            identifier=EMAIL,
            username=USERNAME,
            password=PASSWORD,
            given_name=GIVEN_NAME,
        )
        _wait_for_backchannel_threads()
    with e2e_app.app_context():
        db.session.remove()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh French-speaking browser context (no cookies) and its page."""
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
