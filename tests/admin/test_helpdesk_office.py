"""A helpdesk office: several agents behind one address (the office's NAT) each check answers
given on the phone. The console's limit on those checks counts per agent, not per address:
one agent's calls do not use up the office's budget, and one agent still has a ceiling."""

from __future__ import annotations

import pytest

from tests.admin.conftest import make_operator
from tests.admin.conftest import post_form
from tests.admin.test_people import shown
from tests.admin.test_people import update

CHECKS_PER_AGENT = 30  # per hour


@pytest.fixture
def office(make_app):
    return make_app(RATELIMIT_ENABLED=True)


def _callers(app, factories, count):
    people = []
    for i in range(count):
        person = factories.account(email=f"appelant{i}@example.fr")
        update(app, person.id, secret_question="ville", answer="Lyon")
        people.append(person)
    return people


def test_each_agent_of_one_office_has_a_budget_of_answer_checks(office, factories):
    first = make_operator(office, factories, "agent1@ars.example.fr", roles=("helpdesk",))
    second = make_operator(office, factories, "agent2@ars.example.fr", roles=("helpdesk",))
    callers = _callers(office, factories, CHECKS_PER_AGENT + 1)
    for person in callers[:CHECKS_PER_AGENT]:
        answer = post_form(
            first, f"/admin/personnes/{person.id}/reponse-secrete", {"answer": "Lyon"}
        )
        assert "La réponse est correcte." in shown(first, answer)
    last = callers[CHECKS_PER_AGENT]
    url = f"/admin/personnes/{last.id}/reponse-secrete"
    assert post_form(first, url, {"answer": "Lyon"}).status_code == 429
    # The other agent, at the same address, is not held back.
    assert "La réponse est correcte." in shown(second, post_form(second, url, {"answer": "Lyon"}))
