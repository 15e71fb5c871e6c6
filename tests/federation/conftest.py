"""FranceConnect fixtures: the stand-in served on a free port, and an idp configured for it.

Each platform (FranceConnect v2, FranceConnect+) is a stand-in app plus an idp app on the
session database and keys, both served by ServerThread (the FC+ stand-in fetches idp's
encryption keys over HTTP). Tests drive idp with its Flask test client and the stand-in
with real HTTP; `Browser` follows redirects across both.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from idp import create_app
from idp.extensions import db
from idp.federation.standin import StandinState
from idp.federation.standin import create_standin_app
from idp.federation.standin import standin_config
from tests.conftest import free_port
from tests.conftest import make_config
from tests.e2e.conftest import ServerThread
from tests.factories import Factories
from tests.factories import Flow
from tests.factories import csrf_of
from tests.factories import mark_second_factor_passed
from tests.smtp import SmtpServer

CLIENT_ID = "idp-test"
CLIENT_SECRET = "idp-test-secret-0123456789abcdef"
# idp gives up on FranceConnect after 3 s; the slow identity answers after 6. (1 s was too
# short for a loaded two-CPU machine running the suite under coverage: a userinfo answered
# in 2 s, served by the stand-in in this same process, once gave a 502.)
IDP_TIMEOUT = 3
SLOW_SECONDS = 6
ANGELA_EMAIL = "wossewodda-3728@yopmail.com"


@dataclass
class Platform:
    preset: str
    idp: Flask
    idp_url: str
    standin: Flask
    issuer: str
    smtp: SmtpServer

    @property
    def state(self) -> StandinState:
        return self.standin.extensions["standin"]

    def browser(self) -> Browser:
        return Browser(self)


@pytest.fixture(scope="session")
def fc_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _platform(app, tmp_path_factory, smtp, preset: str, **idp_extra) -> Iterator[Platform]:
    idp_port, fc_port = free_port(), free_port()
    idp_url = f"http://127.0.0.1:{idp_port}"
    config = standin_config(
        idp_url,
        fc_port,
        preset=preset,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        slow_seconds=SLOW_SECONDS,
    )
    standin = create_standin_app(config)
    idp = create_app(
        make_config(
            tmp_path_factory,
            ISSUER=idp_url,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            FRANCECONNECT_ISSUER=config["issuer"],
            FRANCECONNECT_CLIENT_ID=CLIENT_ID,
            FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET,
            FRANCECONNECT_PRESET=preset,
            FEDERATION_TIMEOUT=IDP_TIMEOUT,
            NOTIFY_ASYNC=False,
            SMTP_PORT=smtp.port,
            **idp_extra,
        )
    )
    with ServerThread(standin, fc_port), ServerThread(idp, idp_port):
        yield Platform(preset, idp, idp_url, standin, config["issuer"], smtp)
    with idp.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def fc(app, tmp_path_factory, fc_smtp) -> Iterator[Platform]:
    """FranceConnect v2 (eidas1, signed tokens)."""
    yield from _platform(app, tmp_path_factory, fc_smtp, "franceconnect")


@pytest.fixture(scope="session")
def fc_plus(app, tmp_path_factory, fc_smtp) -> Iterator[Platform]:
    """FranceConnect+ (eidas2, ID token and userinfo encrypted for idp's keys)."""
    yield from _platform(app, tmp_path_factory, fc_smtp, "franceconnect-plus")


@dataclass
class Multi:
    """One idp with three upstreams, each a stand-in: FranceConnect (default, offered where
    no other is), FranceConnect+ (health journeys) and Pro Santé Connect (pro-sante)."""

    idp: Flask
    idp_url: str
    standins: dict[str, Flask]
    issuers: dict[str, str]
    smtp: SmtpServer
    preset: str = "multi"

    @property
    def issuer(self) -> str:
        return self.issuers["franceconnect"]

    def browser(self) -> Browser:
        return Browser(self)


PLUS = "franceconnect-plus"
PSC = "pro-sante-connect"
HEALTH_JOURNEYS = ["ameli", "mon-espace-sante"]


@pytest.fixture(scope="session")
def multi(app, tmp_path_factory, fc_smtp) -> Iterator[Multi]:
    idp_port = free_port()
    idp_url = f"http://127.0.0.1:{idp_port}"
    ports = {name: free_port() for name in ("franceconnect", PLUS, PSC)}
    configs = {
        name: standin_config(
            idp_url,
            ports[name],
            preset=name,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            slow_seconds=SLOW_SECONDS,
            upstream=name,
            id_token_alg="RS256" if name == PSC else None,
        )
        for name in ports
    }
    upstreams = [
        {
            "name": PLUS,
            "preset": PLUS,
            "issuer": configs[PLUS]["issuer"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "journeys": HEALTH_JOURNEYS,
        },
        {
            "name": PSC,
            "preset": PSC,
            "issuer": configs[PSC]["issuer"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "journeys": ["pro-sante"],
        },
    ]
    idp = create_app(
        make_config(
            tmp_path_factory,
            ISSUER=idp_url,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            FRANCECONNECT_ISSUER=configs["franceconnect"]["issuer"],
            FRANCECONNECT_CLIENT_ID=CLIENT_ID,
            FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET,
            # As IDP_UPSTREAMS would give it: JSON.
            UPSTREAMS=json.dumps(upstreams),
            FEDERATION_TIMEOUT=IDP_TIMEOUT,
            NOTIFY_ASYNC=False,
            SMTP_PORT=fc_smtp.port,
        )
    )
    standins = {name: create_standin_app(config) for name, config in configs.items()}
    with contextlib.ExitStack() as stack:
        for name, standin in standins.items():
            stack.enter_context(ServerThread(standin, ports[name]))
        stack.enter_context(ServerThread(idp, idp_port))
        yield Multi(idp, idp_url, standins, {n: c["issuer"] for n, c in configs.items()}, fc_smtp)
    with idp.app_context():
        db.session.remove()
        db.engine.dispose()


LINK_PROOF = re.compile(r"http://localhost(/federation/[a-z-]+/relier/[A-Za-z0-9_\-]+)")
CHOOSE = re.compile(r'action="([^"]*/interaction/[^"]+/login)"')
CANCEL = re.compile(r'action="([^"]*/interaction/[^"]+/cancel)"')


class Browser:
    """One person's browser: idp through the Flask test client, the stand-in over HTTP."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self.client = platform.idp.test_client()
        self.http = requests.Session()
        self.page = None
        self.token = None  # the CSRF token of the idp session, seen on any form

    def _idp_path(self, url: str) -> str | None:
        if url.startswith("/"):
            return url
        if url.startswith(self.platform.idp_url):
            return url[len(self.platform.idp_url) :] or "/"
        return None

    def _absolute(self, url: str) -> str:
        if url.startswith("/") and self.page is not None and getattr(self.page, "url", None):
            parts = urlsplit(self.page.url)
            if parts.netloc and self._idp_path(self.page.url) is None:
                return f"{parts.scheme}://{parts.netloc}{url}"
        return url

    def get(self, url: str):
        url = self._absolute(url)
        path = self._idp_path(url)
        if path is not None:
            self.page = self.client.get(path)
            self._remember_token()
        else:
            self.page = self.http.get(url, allow_redirects=False, timeout=10)
        return self.page

    def _remember_token(self) -> None:
        if 'name="csrf_token"' in self.page.text:
            self.token = csrf_of(self.page.text)

    def post(self, url: str, data: dict):
        url = self._absolute(url)
        path = self._idp_path(url)
        if path is not None:
            self.page = self.client.post(path, data=data)
            self._remember_token()
        else:
            self.page = self.http.post(url, data=data, allow_redirects=False, timeout=10)
        return self.page

    def follow(self, limit: int = 12):
        """Follow redirects until a page, or until one leaves for a portal."""
        for _ in range(limit):
            if self.page.status_code not in (301, 302, 303):
                return self.page
            location = self.page.headers["Location"]
            if location.startswith("https://portal.example"):
                return self.page
            self.get(location)
        raise AssertionError("too many redirects")

    def submit(self, url: str, data: dict):
        """Post an idp form with the session's CSRF token."""
        return self.post(url, {**data, "csrf_token": self.token})

    # FranceConnect ---------------------------------------------------------------------------
    def to_franceconnect(self, next_url: str | None = None, upstream: str = "franceconnect"):
        """From idp's start URL to the stand-in's identity page."""
        query = "?" + urlencode({"next": next_url}) if next_url else ""
        self.get(f"/federation/{upstream}/start" + query)
        assert self.page.status_code == 302, self.page.text[:300]
        page = self.follow()
        assert "Je choisis une identité de test" in page.text, page.text[:500]
        return page

    def choose(self, identity: str):
        """Pick a test identity; return the first idp page after the callback."""
        action = CHOOSE.search(self.page.text).group(1)
        self.post(action, {"identity": identity})
        assert self.page.status_code == 303
        return self.follow()

    def callback_url(self, identity: str) -> str:
        """Pick an identity but stop at the callback URL (to tamper with it)."""
        action = CHOOSE.search(self.page.text).group(1)
        self.post(action, {"identity": identity})
        return self.page.headers["Location"]

    def cancel(self):
        action = CANCEL.search(self.page.text).group(1)
        self.post(action, {})
        return self.follow()

    def fc_login(self, identity: str, next_url: str | None = None, upstream: str = "franceconnect"):
        self.to_franceconnect(next_url, upstream)
        return self.choose(identity)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def reason_of(page) -> str | None:
    found = re.search(r'data-reason="([a-z_]+)"', page.text)
    return found.group(1) if found else None


def sign_up(browser, email=ANGELA_EMAIL):
    page = browser.page
    assert page.status_code == 200 and "Créer mon compte avec FranceConnect" in page.text
    return browser.submit(
        "/federation/franceconnect/creer-mon-compte",
        {"email": email, "email_confirm": email, "cgu": "y", "rgpd": "y"},
    )


def fc_session_with_portal_tokens(platform, identity="pierre-paul"):
    """A person signed up through FranceConnect, then logged in to a portal (SSO)."""
    portal = Factories(platform.idp).portal()
    browser = platform.browser()
    browser.fc_login(identity)
    sign_up(browser, f"{identity}@example.fr")
    flow = Flow(browser.client, portal)
    response = flow.authorize()
    code = query_of(response.headers["Location"])["code"]
    tokens = flow.token(code).get_json()
    return browser, flow, tokens


def link_proof_path(platform, email: str) -> str:
    """The path of the last linking proof mailed to `email`."""
    mails = [m for m in platform.smtp.wait(1) if email in m.rcpt_tos]
    return LINK_PROOF.search(mails[-1].part("plain")).group(1)


def prove_by_mail(platform, browser, email: str, decision: str = "link"):
    """Open the linking proof mailed to `email` (GET), then confirm or refuse it (POST)."""
    path = link_proof_path(platform, email)
    page = browser.get(path)
    assert page.status_code == 200 and "Relier votre compte à FranceConnect" in page.text
    return browser.submit(path, {"decision": decision})


def passed_second_factor(platform, person) -> None:
    """Mark the person's SSO sessions as having passed a second factor (eidas2)."""
    mark_second_factor_passed(platform.idp, person.id)
