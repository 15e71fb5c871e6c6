"""Schemathesis fuzzes every operation of the OpenAPI document against the app in-process.

Positive and negative data, a valid token, existing portals and people mixed in so that
the happy paths run too; no answer may be a 500, and every documented answer must match
its schema. Deterministic (derandomised) and bounded (25 examples per operation and mode).
"""

from __future__ import annotations

import hypothesis
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import admin_portal
from tests.api.conftest import issue_token

SETTINGS = hypothesis.settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def _with_real_ids(strategy, client_id: str, sub: str):
    def swap(case):
        if case.path_parameters:
            if "client_id" in case.path_parameters:
                case.path_parameters["client_id"] = client_id
            if "sub" in case.path_parameters:
                case.path_parameters["sub"] = sub
        return case

    return st.one_of(strategy, strategy.map(swap))


def _fuzz(strategy, headers: dict, mode: GenerationMode) -> None:
    checks = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)

    @SETTINGS
    @hypothesis.given(case=strategy)
    def run(case):
        case.call_and_validate(headers=headers, checks=checks)

    run()


def test_fuzzing_the_whole_document_finds_no_server_error(app, client, factories):
    admin = admin_portal(factories)
    token = issue_token(client, admin)
    target = factories.portal(name="Portail cible")
    person = factories.account(email="cible@example.fr")
    schema = schemathesis.openapi.from_wsgi("/api/admin/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = _with_real_ids(
                operation.as_strategy(generation_mode=mode), target.client_id, person.sub
            )

            try:
                _fuzz(strategy, headers, mode)
            except hypothesis.errors.Unsatisfiable:
                # Nothing to make invalid (no parameter, no body): the positive run covers it.
                assert mode is GenerationMode.NEGATIVE, operation.label
