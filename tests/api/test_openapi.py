"""The OpenAPI document: served, valid, and in step with the blueprint's routes."""

from __future__ import annotations

import re

import schemathesis

from idp.api import bp

METHODS = {"get", "post", "patch", "delete", "put"}


def documented(client) -> set[tuple[str, str]]:
    document = client.get("/api/admin/openapi.json").get_json()
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def routed(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{bp.name}."):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            found |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_the_document_is_public_and_describes_the_security(client):
    response = client.get("/api/admin/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.0.3"
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "http://localhost/token"
    assert set(flow["scopes"]) == {"admin:clients", "admin:users"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_route_is_documented_and_every_documented_operation_exists(app, client):
    assert routed(app) == documented(client)


def test_every_operation_but_the_document_requires_a_scope(client):
    document = client.get("/api/admin/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if path.endswith("/openapi.json"):
                assert operation["security"] == []
            else:
                (requirement,) = operation["security"]
                assert requirement["oauth2"] in (["admin:clients"], ["admin:users"])


def test_schemathesis_loads_the_document(app):
    schema = schemathesis.openapi.from_wsgi("/api/admin/openapi.json", app)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert "POST /api/admin/clients" in labels
    assert "POST /api/admin/users/{sub}/actions/{action}" in labels


def test_unknown_paths_and_methods_answer_json_not_html(client, api):
    missing = client.get("/api/admin/nope")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not_found", "error_description": "Ressource inconnue."}
    wrong_method = api.put("/clients") if hasattr(api, "put") else client.put("/api/admin/clients")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"] == "method_not_allowed"
    assert set(wrong_method.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert client.delete("/api/admin/openapi.json").mimetype == "application/json"


def test_an_unexpected_failure_is_still_a_json_answer(api, monkeypatch):
    from idp.admin import services

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "list_portals", broken)
    response = api.get("/clients")
    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error", "error_description": "Erreur interne."}
    assert "boom" not in response.text
