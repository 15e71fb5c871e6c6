"""Rate limits: shared through Redis when IDP_REDIS_URL is set; sign-up steps are limited."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from tests.conftest import free_port
from tests.factories import csrf_of
from tests.lifecycle.conftest import post_login


@pytest.fixture
def redis_url():
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    connection = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield url
    connection.close()
    server.terminate()
    server.wait(10)


def test_login_limits_are_kept_in_redis_and_hold_across_instances(redis_url, make_app, factories):
    settings = {
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "2 per minute",
    }
    first = make_app(**settings)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    client = first.test_client()
    assert post_login(client, "a@example.fr", "x").status_code == 200
    assert post_login(client, "b@example.fr", "x").status_code == 200
    assert redis.Redis.from_url(redis_url).keys("*LIMITS*")
    # Another instance (new storage connection) sees the same counter.
    second = make_app(**settings)
    assert post_login(second.test_client(), "c@example.fr", "x").status_code == 429
    # An instance without Redis starts from zero (and gives the one limiter of the process
    # its memory storage back before the Redis server stops).
    alone = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    assert post_login(alone.test_client(), "d@example.fr", "x").status_code == 200


def test_without_redis_url_limits_are_in_memory(make_app):
    assert make_app(REDIS_URL="").config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_sign_up_steps_are_limited_per_ip(make_app):
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    started = client.get("/inscription/citoyen")
    step_url = started.headers["Location"]
    token = csrf_of(client.get(step_url).text)
    codes = [client.post(step_url, data={"csrf_token": token}).status_code for _ in range(61)]
    assert 429 not in codes[:60] and codes[60] == 429
