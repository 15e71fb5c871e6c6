"""`make demo`: the credentials it prints let a newcomer log in on every demo portal."""

from __future__ import annotations

import pytest

from demo.__main__ import DEMO_IDENTIFIERS
from demo.__main__ import DEMO_PEOPLE
from demo.__main__ import JOURNEYS
from demo.__main__ import seed
from idp.auth.services import find_account
from idp.enrolment.engine import get_journey
from idp.extensions import db
from tests.factories import Flow
from tests.factories import Portal
from tests.oidc.test_consent import answer as consent_answer

PORTALS = "http://127.0.0.1:5100"


@pytest.fixture
def demo(app, tmp_path):
    return {p["slug"]: p for p in seed(app, PORTALS, tmp_path / "portals.json")}


def _identifier_for(email: str, slug: str) -> str:
    """What the printout tells to type on that portal: its kind of identifier, or the email."""
    kind = get_journey(JOURNEYS[slug]).login_kind
    given = dict(DEMO_IDENTIFIERS[email])
    return given.get(kind, email)


@pytest.mark.parametrize("slug", list(JOURNEYS))
def test_each_demo_person_logs_in_on_each_demo_portal(app, demo, slug):
    portal = Portal(
        demo[slug]["client_id"], demo[slug]["client_secret"], f"{PORTALS}/{slug}/callback"
    )
    for email, password, *_ in DEMO_PEOPLE:
        flow = Flow(app.test_client(), portal)
        answer = flow.login(flow.authorize(), _identifier_for(email, slug), password)
        answer = flow.client.get(answer.headers["Location"])
        if answer.status_code == 200:  # the portal asks for consent: "Autoriser"
            answer = consent_answer(flow, answer, "accept")
        query = flow.follow_to_callback(answer)
        tokens = flow.token(query["code"]).get_json()
        assert "id_token" in tokens, (slug, email, tokens)


def test_seeding_again_keeps_one_account_and_its_identifiers(app, demo, tmp_path):
    seed(app, PORTALS, tmp_path / "portals.json")  # `make demo` run a second time
    with app.app_context():
        for email, *_ in DEMO_PEOPLE:
            for kind, shown in DEMO_IDENTIFIERS[email]:
                assert find_account(shown, kind).email == email
        db.session.remove()
