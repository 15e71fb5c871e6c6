"""A JSON body whose objects repeat a key is refused, not read as its last value."""

from __future__ import annotations

import pytest

JSON = {"Content-Type": "application/json"}


def test_a_repeated_top_level_key_is_refused_and_named(api):
    body = '{"name": "Portail A", "name": "Portail B", "grant_types": ["client_credentials"]}'
    response = api.post("/clients", data=body, headers=JSON)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_request",
        "error_description": "Clé en double dans le corps JSON : name.",
    }
    # Nothing was registered under either name.
    names = [item["name"] for item in api.get("/clients").get_json()["items"]]
    assert "Portail A" not in names and "Portail B" not in names


def test_a_repeated_key_deep_inside_is_refused(api, factories):
    portal = factories.portal()
    body = '{"name": "P", "extra": [{"a": 1}, {"b": {"c": 1, "c": 2}}]}'
    response = api.patch(f"/clients/{portal.client_id}", data=body, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.get_json()["error_description"] == "Clé en double dans le corps JSON : c."


def test_the_same_key_in_two_different_objects_is_not_a_duplicate(api):
    body = (
        '{"name": "Portail", "redirect_uris": ["https://p.example.fr/cb"],'
        ' "post_logout_redirect_uris": ["https://p.example.fr/"]}'
    )
    response = api.post("/clients", data=body, headers=JSON)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "A", "name": "A"}',  # same value twice: still ambiguous for a reader
        '{"name": "A", "n\\u0061me": "B"}',  # escaped spelling of the same key
    ],
)
def test_every_spelling_of_a_repeated_key_is_refused(api, body):
    response = api.post("/clients", data=body, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error_description"] == "Clé en double dans le corps JSON : name."


def test_a_long_or_odd_repeated_key_is_shortened_in_the_message(api):
    key = "k" * 500
    response = api.post("/clients", data=f'{{"{key}": 1, "{key}": 2}}', headers=JSON)
    assert response.status_code == 400
    description = response.get_json()["error_description"]
    assert description.startswith("Clé en double dans le corps JSON : kkk")
    assert len(description) < 300


@pytest.mark.parametrize("key", ["\\u0000", "\\ud800", "a\\nb"])
def test_an_unprintable_repeated_key_gives_a_clear_400(api, key):
    response = api.post("/clients", data=f'{{"{key}": 1, "{key}": 2}}', headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error_description"].startswith("Clé en double")
