"""Every route of the app, walked with plausible and hostile input by every kind of caller.

The rules checked here are the project's: bad input gets a clear French page (or an
RFC-conformant OAuth / API JSON error), never a 5xx and never a stack trace; every form is
protected against CSRF; no redirect leaves for a host the request did not name as trusted.
The rules are read from `app.url_map`, so a new route is walked without editing this file.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp import create_app
from idp.extensions import csrf
from idp.extensions import db
from idp.models import Base
from idp.oidc.models import BrowserSession
from tests.account.conftest import login
from tests.admin.conftest import make_operator
from tests.conftest import ISSUER
from tests.conftest import SECRET
from tests.conftest import dispose
from tests.conftest import free_port
from tests.conftest import make_config
from tests.factories import POST_LOGOUT
from tests.factories import REDIRECT
from tests.factories import csrf_of

# The files under /static and /static/dsfr are served by Werkzeug's send_from_directory
# (safe_join refuses traversal); they hold no code of ours and walking the path converter
# would only read files. The one static route of ours with a view (zxcvbn) is walked.
SKIPPED_ENDPOINTS = {"static", "dsfr_static"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# The views that Flask-WTF does not check for a CSRF token, with the reason each may be.
EXPECTED_CSRF_EXEMPT = {
    # RFC 6749 §3.1 / OIDC Core §3.1.2.1: a portal may POST its authorization request; it
    # only starts a login and answers the registered redirect_uri, like the GET.
    "oidc.authorize",
    # RFC 6749 §3.2: portals authenticate with their client credentials, no cookie.
    "oidc.token",
    # OIDC Core §5.3 / RFC 6750 §2.2: bearer access token, no cookie.
    "oidc.userinfo",
    # RFC 7009 §2.1: client authentication, no cookie.
    "oidc.revoke",
    # RFC 7662 §2.1: client authentication, no cookie.
    "oidc.introspect",
    # RP-Initiated Logout 1.0 §2 allows POST from the portal; without an id_token_hint of
    # the browser's own session it only shows our confirmation form (CSRF-protected).
    "oidc.end_session",
}
# The admin JSON API: bearer tokens from client_credentials, never a cookie.
EXPECTED_CSRF_EXEMPT_BLUEPRINTS = {"api"}


def _collection_app():
    """An app built at collection time only to read its URL map (no database touched)."""
    with tempfile.TemporaryDirectory(prefix="idp-routes-keys-") as keys:
        built = create_app(
            {
                "TESTING": True,
                "ISSUER": ISSUER,
                "SECRET_KEY": SECRET,
                "DATABASE_URL": "sqlite://",
                "KEYS_DIR": keys,
            }
        )
        dispose(built)
        return built


_RULES = sorted(
    (
        (rule.rule, rule.endpoint, tuple(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        for rule in _collection_app().url_map.iter_rules()
        if rule.endpoint not in SKIPPED_ENDPOINTS
    ),
)
RULE_IDS = [f"{' '.join(methods)} {path}" for path, _, methods in _RULES]


def _is_exempt(endpoint: str) -> bool:
    blueprint = endpoint.rpartition(".")[0]
    return endpoint in EXPECTED_CSRF_EXEMPT or blueprint in EXPECTED_CSRF_EXEMPT_BLUEPRINTS


# The form routes: every rule that writes, but the machine endpoints of EXPECTED_CSRF_EXEMPT
# (that list is itself checked against the app by a test below).
WRITE_RULES = [r for r in _RULES if set(r[2]) & WRITE_METHODS and not _is_exempt(r[1])]
WRITE_IDS = [f"{' '.join(sorted(set(m) & WRITE_METHODS))} {p}" for p, _, m in WRITE_RULES]

# -- values for the URL converters --------------------------------------------------------

# 10**30 overflowed SQLite's driver (a 500 on /mon-compte/portails/<id>/retrait) before
# <int:…> was bounded to the Integer range (idp.IdConverter).
INT_HOSTILE = ["0", str(2**31), str(10**30)]
STRING_HOSTILE = [
    "x",
    "a" * 300,
    quote("é漢字✓ l'œil"),
    "%00",
    "%0D%0Aheader:x",
    "%FF%FE",  # not UTF-8 once decoded
    "..",
]

# -- hostile query strings: unknown fields, very long values, control characters,
# repeated keys, and every redirect parameter the app reads pointing elsewhere.
EVIL = "https://evil.example/x"
QUERIES = [
    "",
    "next=//evil.example/x&next=" + quote(EVIL, safe="") + "&unknown=" + "A" * 5000,
    "redirect_uri="
    + quote(EVIL, safe="")
    + "&post_logout_redirect_uri="
    + quote(EVIL, safe="")
    + "&state=%0D%0ASet-Cookie:x&client_id=%00",
    "next=%2F%09%2Fevil.example&next=%5C%5Cevil.example&q=%00&page=99999999999999999999",
    "next=/%5Cevil.example&methode=%00&identifiant=" + "é" * 300 + "&login_hint=%0D%0A",
    "q=%FF%FE&page=-1&page=x&ui_locales=%00&renvoye=1&profil=%FF&version=%0A",
    "response_type=code&client_id={client_id}&redirect_uri="
    + quote(EVIL, safe="")
    + "&scope=openid&state=x",
    "response_type=code&client_id={client_id}&redirect_uri="
    + quote(REDIRECT, safe="")
    + "&scope=openid%00&state=%0D%0A&prompt=none&max_age=-1&acr_values="
    + "x" * 400,
]

# Form fields the app's forms use, all given hostile values; unknown ones too.
FIELDS = [
    "identifier",
    "password",
    "new_password",
    "confirm",
    "email",
    "code",
    "q",
    "next",
    "decision",
    "action",
    "channel",
    "reason",
    "role",
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "phone",
    "answer",
    "given_name",
    "family_name",
    "birthdate",
    "nir",
    "remember",
    "disabled",
    "confirm_client_id",
    "access_token",
    "token",
    "grant_type",
    "unknown_field",
]
HOSTILE_VALUES = ["", "x" * 5000, "a\x00b", "a\r\nb", "é漢字", "//evil.example", EVIL, "-1"]


def _hostile_form(values: list[str] = HOSTILE_VALUES) -> list[tuple[str, str]]:
    pairs = []
    for i, name in enumerate(FIELDS):
        # Each field twice (a list), with two different hostile values.
        pairs.append((name, values[i % len(values)]))
        pairs.append((name, values[(i + 3) % len(values)]))
    return pairs


@dataclass
class Body:
    label: str
    kwargs: dict


def _bodies(token: str | None) -> list[Body]:
    form = _hostile_form()
    with_token = form + ([("csrf_token", token)] if token else [])
    return [
        Body("empty form", {"data": {}}),
        Body("hostile form", {"data": MultiDict(with_token)}),
        # The console refuses any NUL with a 400 before its views: this one reaches them.
        Body(
            "hostile form without NUL",
            {
                "data": MultiDict(
                    _hostile_form([v for v in HOSTILE_VALUES if "\x00" not in v])
                    + ([("csrf_token", token)] if token else [])
                )
            },
        ),
        Body(
            "hostile form, bogus token",
            {"data": MultiDict([*form, ("csrf_token", "x\x00" * 40)])},
        ),
        Body(
            "non-UTF-8 form body",
            {
                "data": b"identifier=\xff\xfe&password=\xc3\x28&q=%FF%FE&\xff=\xfe",
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        Body(
            "JSON where a form is expected",
            {"data": json.dumps(dict(form)), "content_type": "application/json"},
        ),
        Body(
            "form where JSON is expected",
            {"data": "a=b&c=%00", "content_type": "application/json"},
        ),
        # These JSON bodies reached Flask-WTF, which fed them to the form fields (a 500 on
        # every form) until errors_views.refuse_json_on_forms.
        Body(
            "JSON list where a form is expected",
            {"data": json.dumps([1, "a", None]), "content_type": "application/json"},
        ),
        Body(
            "JSON objects as field values",
            {
                "data": json.dumps({name: {"a": [1]} for name in FIELDS} | {"csrf_token": token}),
                "content_type": "application/json",
            },
        ),
        Body(
            "JSON scalar",
            {"data": "12", "content_type": "application/json"},
        ),
        Body(
            "deeply nested JSON",
            {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"},
        ),
        Body("wrong content type", {"data": b"\x00\x01\xff", "content_type": "text/plain"}),
        Body(
            "multipart without boundary",
            {"data": b"--x\r\n\r\n", "content_type": "multipart/form-data"},
        ),
    ]


# -- the callers --------------------------------------------------------------------------


@dataclass
class World:
    app: object
    portal: object
    person: object
    operator_client: object
    person_client: object
    anonymous_client: object
    plausible: dict


def _token_for(client, page: str) -> str | None:
    response = client.get(page)
    if response.status_code != 200:
        return None
    try:
        return csrf_of(response.text)
    except AssertionError:
        return None


# The upstream (FranceConnect) of the app under test: a loopback port where nothing
# listens, so that every /federation/<upstream>/ route exists (an unknown upstream is a
# 404 before any view runs) and a call to the upstream fails at once, as when FranceConnect
# is down. The stand-in's full flows have their own tests under tests/federation.
UPSTREAM_ISSUER = f"http://127.0.0.1:{free_port()}/api/v2"
UPSTREAM = "franceconnect"


@pytest.fixture(scope="module")
def upstream_app(app, tmp_path_factory):
    """The session app's database and keys, with an upstream configured."""
    other = create_app(
        make_config(
            tmp_path_factory,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            FRANCECONNECT_ISSUER=UPSTREAM_ISSUER,
            FRANCECONNECT_CLIENT_ID="idp-test",
            FRANCECONNECT_CLIENT_SECRET="idp-test-secret-0123456789abcdef",
            FEDERATION_TIMEOUT=1,
        )
    )
    yield other
    dispose(other)


@pytest.fixture
def world(upstream_app, factories) -> World:
    app = upstream_app
    portal = factories.portal()
    person = factories.account()
    operator = make_operator(app, factories, "admin@ars.example.fr", roles=("admin",))
    person_client = login(app.test_client(), person)
    with app.app_context():
        session_id = db.session.scalar(
            select(BrowserSession.id).where(BrowserSession.account_id == person.id)
        )
    plausible = {
        "account_id": str(person.id),
        "session_id": str(session_id),
        "device_id": "1",
        "consent_id": "1",
        "client_id": quote(portal.client_id, safe=""),
        "sub": quote(person.sub, safe=""),
        "upstream": UPSTREAM,
        "journey": "citoyen",
        "step": "identite",
        "action": "disable",
        "secret": "s" * 43,
        "token": "t" * 43,
    }
    return World(app, portal, person, operator, person_client, app.test_client(), plausible)


_CONVERTER = re.compile(r"<(?:(?P<conv>[^:<>]+):)?(?P<name>[^<>]+)>")


def _fill(path: str, choose) -> str:
    return _CONVERTER.sub(lambda m: choose(m.group("conv") or "default", m.group("name")), path)


def _path_variants(path: str, world: World) -> list[str]:
    """The path with plausible values, then with each hostile value in every converter."""
    variants = [_fill(path, lambda conv, name: world.plausible.get(name, "x"))]
    if not _CONVERTER.search(path):
        return variants
    has_int = "<int:" in path
    has_str = bool(re.search(r"<(?!int:)[^>]+>", path))
    if has_int:
        for value in INT_HOSTILE:
            variants.append(
                _fill(
                    path,
                    lambda conv, name, v=value: (
                        v if conv == "int" else world.plausible.get(name, "x")
                    ),
                )
            )
    if has_str:
        for value in STRING_HOSTILE:
            variants.append(
                _fill(
                    path,
                    lambda conv, name, v=value: (
                        world.plausible.get(name, "x") if conv == "int" else v
                    ),
                )
            )
    return variants


# -- what every answer must respect -------------------------------------------------------


def _allowed_location(location: str, world: World) -> bool:
    """Where a redirect may go.

    - a path on this server (relative, or absolute on the issuer's own host): the login,
      step-up and result pages;
    - a redirect URI registered for the test portal (the authorization response, RFC 6749
      §4.1.2 and §4.1.2.1 errors that have a trustworthy redirect_uri);
    - a post-logout redirect URI registered for the test portal (RP-Initiated Logout §3);
    - the configured upstream (UPSTREAM_ISSUER, the FranceConnect stand-in's place): its
      authorization and logout endpoints, where /federation/<upstream>/start and the
      logout send the browser.
    """
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        # Relative: must be a path, never "//host" nor "/\host" (browsers read both as a
        # host) nor carry a control character.
        return (
            location.startswith("/")
            and not location.startswith("//")
            and "\\" not in location
            and not re.search(r"[\x00-\x1f\x7f]", location)
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if f"{parts.scheme}://{parts.netloc}" == ISSUER:
        return True
    if base.startswith(UPSTREAM_ISSUER + "/"):
        return True
    return base in {REDIRECT, POST_LOGOUT}


UPSTREAM_DOWN_PAGE = re.compile(r'data-reason="(unreachable|timeout|upstream_error)"')


def _upstream_down_page(response, label: str) -> bool:
    """The one 5xx by design: a 502 Bad Gateway on a /federation/ route when the upstream
    does not answer (idp/federation/views.py `_failure`, tests/federation/test_failures.py),
    and only as the French "FranceConnect est indisponible" page."""
    return (
        response.status_code == 502
        and " /federation/" in label
        and bool(UPSTREAM_DOWN_PAGE.search(response.get_data(as_text=True)))
        and "ne répond pas pour le moment" in response.get_data(as_text=True)
    )


def _check(response, label: str, world: World, failures: list[str], caplog) -> None:
    body = response.get_data()
    response.close()  # a file answer (send_from_directory) holds its file open until then
    problems = []
    if response.status_code >= 500 and not _upstream_down_page(response, label):
        problems.append(f"status {response.status_code}")
    if b"Traceback" in body:
        problems.append("Traceback in body")
    location = response.headers.get("Location")
    if location is not None and not _allowed_location(location, world):
        problems.append(f"redirect to {location!r}")
    if problems:
        errors = [
            r.getMessage() + " " + str(r.exc_info and r.exc_info[1])
            for r in caplog.records
            if r.levelname == "ERROR"
        ]
        failures.append(f"{label}: {', '.join(problems)} {errors[-1:] if errors else ''}")
    caplog.clear()


def _send(client, method: str, url: str, **kwargs):
    return client.open(url, method=method, **kwargs)


def _actors(path: str, world: World) -> Iterator[tuple[str, object, str | None]]:
    """(name, client, CSRF token of its session)."""
    yield "anonymous", world.anonymous_client, _token_for(world.anonymous_client, "/connexion")
    yield "person", world.person_client, _token_for(world.person_client, "/mon-compte")
    if path.startswith("/admin"):
        page = f"/admin/personnes/{world.operator_client.person.id}"
        yield "operator", world.operator_client, _token_for(world.operator_client, page)


@pytest.mark.parametrize(("path", "endpoint", "methods"), _RULES, ids=RULE_IDS)
def test_no_route_answers_5xx_a_traceback_or_an_open_redirect(
    path, endpoint, methods, world, caplog
):
    """Every method of the rule, every caller, hostile paths, queries and bodies."""
    failures: list[str] = []
    queries = [q.replace("{client_id}", world.plausible["client_id"]) for q in QUERIES]
    paths = _path_variants(path, world)
    for name, client, token in _actors(path, world):
        headers = {"X-CSRFToken": token} if token else {}
        for method in methods:
            # Hostile paths, each with another hostile query string.
            for i, url in enumerate(paths):
                query = queries[i % len(queries)]
                target = f"{url}?{query}" if query else url
                response = _send(client, method, target, headers=headers)
                _check(response, f"{name} {method} {target[:200]}", world, failures, caplog)
            plausible = paths[0]
            # A forged Host (and proxy header): no redirect may follow it to another host.
            # Over plain http to a host other than localhost, Authlib raised on /token,
            # /userinfo, /revoke and /introspect (a 500) until errors_views answered it.
            response = _send(
                client,
                method,
                plausible,
                headers={**headers, "Host": "evil.example", "X-Forwarded-Host": "evil.example"},
            )
            _check(
                response,
                f"{name} {method} {plausible} [Host: evil.example]",
                world,
                failures,
                caplog,
            )
            if method in WRITE_METHODS:
                for i, body in enumerate(_bodies(token)):
                    query = queries[(i + 1) % len(queries)]
                    target = f"{plausible}?{query}" if query else plausible
                    response = _send(client, method, target, headers=headers, **body.kwargs)
                    _check(
                        response,
                        f"{name} {method} {target[:120]} [{body.label}]",
                        world,
                        failures,
                        caplog,
                    )
            else:
                for query in queries[1:]:
                    target = f"{plausible}?{query}"
                    response = _send(client, method, target, headers=headers)
                    _check(response, f"{name} {method} {target[:200]}", world, failures, caplog)
    assert not failures, "\n".join(failures)


def test_the_walked_rules_are_those_of_the_app_under_test(app, upstream_app):
    """The rules read at collection time are the session app's and the upstream app's."""
    for tested in (app, upstream_app):
        rules = {
            (rule.rule, rule.endpoint, tuple(sorted(rule.methods - {"HEAD", "OPTIONS"})))
            for rule in tested.url_map.iter_rules()
            if rule.endpoint not in SKIPPED_ENDPOINTS
        }
        assert rules == set(_RULES)


# -- CSRF ---------------------------------------------------------------------------------


def _exempt_endpoints(app) -> set[str]:
    exempt_blueprints = {bp.name for bp in csrf._exempt_blueprints}
    exempt = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        location = f"{view.__module__}.{view.__name__}"
        blueprint = rule.endpoint.rpartition(".")[0]
        if location in csrf._exempt_views and blueprint not in exempt_blueprints:
            exempt.add(rule.endpoint)
    return exempt


def test_the_csrf_exempt_views_are_the_expected_machine_endpoints(app):
    assert {bp.name for bp in csrf._exempt_blueprints} == EXPECTED_CSRF_EXEMPT_BLUEPRINTS
    assert _exempt_endpoints(app) == EXPECTED_CSRF_EXEMPT
    assert app.config["WTF_CSRF_ENABLED"] and app.config["WTF_CSRF_CHECK_DEFAULT"]


def _snapshot(app) -> dict[str, list]:
    """Every row of every table, to see that a refused POST changed nothing."""
    with app.app_context():
        db.session.remove()
        rows = {}
        with db.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                rows[table.name] = sorted(map(repr, conn.execute(table.select()).all()))
        return rows


@pytest.mark.parametrize(("path", "endpoint", "methods"), WRITE_RULES, ids=WRITE_IDS)
def test_a_form_post_without_csrf_token_changes_nothing(path, endpoint, methods, world):
    """A logged-in browser (an operator under /admin) POSTs the form without its token."""
    client = world.operator_client if path.startswith("/admin") else world.person_client
    url = _fill(path, lambda conv, name: world.plausible.get(name, "x"))
    # Plausible fields, so that only the missing token can stop the request.
    data = {
        "identifier": world.person.email,
        "password": world.person.password,
        "email": "autre@example.fr",
        "decision": "accept",
        "action": "send",
        "confirm_client_id": world.portal.client_id,
        "reason": "demande de la personne",
        "role": "admin",
        "q": "curie",
    }
    for method in sorted(set(methods) & WRITE_METHODS):
        before = _snapshot(world.app)
        response = client.open(url, method=method, data=data)
        after = _snapshot(world.app)
        assert response.status_code in (400, 200), (method, response.status_code)
        if response.status_code == 200:
            assert 'name="csrf_token"' in response.text, "200 without the form again"
        assert before == after, f"{method} {url} without a CSRF token changed the database"
