"""Security review: a body sent without Content-Length (chunked) is bounded like any other."""

from __future__ import annotations

import io
import json


def test_a_chunked_body_over_the_limit_is_refused_unread(api):
    body = json.dumps({"name": "x" * (2 * 1024 * 1024)}).encode()
    response = api.post(
        "/clients",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What a WSGI server sets for a chunked request: no length, read to the end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_too_large"


def test_a_small_chunked_body_is_read(api):
    body = json.dumps({"name": "Portail", "redirect_uris": ["https://p.example.fr/cb"]}).encode()
    response = api.post(
        "/clients",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What a WSGI server sets for a chunked request: no length, read to the end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201, response.text
