"""The production server: gunicorn with the repository's gunicorn.conf.py (preload, the
warm-up before the first fork, a fresh database pool per worker)."""

import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.conftest import server_env

ROOT = Path(__file__).resolve().parents[1]


def test_gunicorn_with_the_repository_settings_serves_pages_and_discovery(tmp_path):
    port = free_port()
    env = server_env(tmp_path, IDP_ISSUER=f"http://127.0.0.1:{port}")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn
            [str(gunicorn), "-c", "gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}"]
            + ["wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                discovery = requests.get(f"{base}/.well-known/openid-configuration", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()
