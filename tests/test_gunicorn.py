"""The production server: gunicorn with the repository's gunicorn.conf.py (preload, the
warm-up before the first fork, a fresh database pool per worker)."""

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.conftest import server_env
from tests.factories import csrf_of
from tests.lifecycle.test_limits import redis_url  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[str]:
    """gunicorn -c gunicorn.conf.py -w 2 on a migrated SQLite database; yield its URL."""
    port = free_port()
    env = server_env(tmp_path, IDP_ISSUER=f"http://127.0.0.1:{port}", **settings)
    bin_dir = Path(sys.executable).parent
    subprocess.run(  # noqa: S603 - our own interpreter's console script
        [str(bin_dir / "idp"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn
            [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "-w", "2"]
            + ["-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                # A worker still booting on a loaded machine may accept the connection and
                # answer late: a timeout is "not ready yet", like a refused connection.
                requests.get(f"{base}/.well-known/openid-configuration", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def test_gunicorn_with_the_repository_settings_serves_pages_and_discovery(tmp_path):
    with gunicorn(tmp_path) as base:
        discovery = requests.get(f"{base}/.well-known/openid-configuration", timeout=5)
        assert discovery.status_code == 200
        assert discovery.json()["issuer"] == base
        for _ in range(4):  # both workers, whichever answers
            page = requests.get(f"{base}/connexion", timeout=5)
            assert page.status_code == 200
            assert "Se connecter" in page.text
            english = requests.get(
                f"{base}/connexion", headers={"Accept-Language": "en"}, timeout=5
            )
            assert english.status_code == 200
            assert "Log in" in english.text or "Sign in" in english.text
    # The warm-up before the fork (gunicorn.conf.py) and these pages wrote nothing.
    with sqlite3.connect(tmp_path / "idp.sqlite3") as db:
        for table in ("audit_event", "oauth_token", "browser_session", "oauth_code"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table  # noqa: S608


def test_the_workers_share_the_login_limit_through_redis(tmp_path, redis_url):  # noqa: F811
    """The limiter, off during the warm-up in the master, is on in both workers and shares
    its counts through Redis: the 31st failed login of one address is refused."""
    with gunicorn(tmp_path, IDP_REDIS_URL=redis_url) as base:
        browser = requests.Session()
        token = csrf_of(browser.get(f"{base}/connexion", timeout=5).text)
        statuses = [
            browser.post(
                f"{base}/connexion",
                data={"identifier": f"nobody{i}@example.fr", "password": "x", "csrf_token": token},
                timeout=10,
            ).status_code
            for i in range(31)
        ]
    assert statuses == [200] * 30 + [429], statuses
