"""The floor under idp's figures: what gunicorn alone, and gunicorn + Flask alone, cost per
HTTP request on this machine, measured the way bench.py measures idp.

Two stand-in applications, each served by `gunicorn -w 2` (sync workers) on 127.0.0.1 and
loaded by wrk (8 connections, POST /token with a small form, like a client_credentials
grant) for `--duration` seconds:

  raw    a bare WSGI callable returning a fixed JSON body;
  flask  a Flask app whose one view returns the same JSON with jsonify().

It prints requests/s, p50/p99 latency, and the server CPU per request (utime + stime of the
gunicorn processes, /proc), then what that leaves for idp's own work:

  - a grant target of N/s on C CPUs allows C/N seconds of CPU per grant in all;
  - a login of R requests costs at least R × the Flask floor before idp does anything,
    to be compared with one argon2id verify (measured here, OWASP minimum cost).

Usage: python bench/floor.py [--duration 10] [--json PATH]. Needs wrk (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench import HOST
from bench import PASSWORD
from bench import _argon2_settings
from bench import argon2_verify_cpu
from bench import cpu_seconds
from bench import free_port
from bench import process_tree

LOGIN_REQUESTS = 5
TARGETS = {"refresh_token": 800, "client_credentials": 2000}

APPS = {
    "raw": """
        BODY = b'{"access_token": "x", "expires_in": 600, "token_type": "Bearer"}'

        def app(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))],
            )
            return [BODY]
    """,
    "flask": """
        from flask import Flask, jsonify, request

        app = Flask(__name__)

        @app.post("/token")
        def token():
            request.form.get("grant_type")
            return jsonify(access_token="x", expires_in=600, token_type="Bearer")
    """,
}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic YmVuY2g6c2VjcmV0"
"""


def measure(name: str, workdir: Path, duration: int) -> dict:
    (workdir / f"{name}_app.py").write_text(textwrap.dedent(APPS[name]))
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603 - our interpreter's gunicorn, loopback only
        [str(gunicorn), "-w", "2", "-b", f"{HOST}:{port}", f"{name}_app:app"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(process_tree(server.pid)) < 3 or not _answers(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"gunicorn ({name}) did not start")
            time.sleep(0.1)
        pids = process_tree(server.pid)
        before = cpu_seconds(pids)
        out = subprocess.run(  # noqa: S603 - wrk from PATH, loopback only
            [
                shutil.which("wrk") or "wrk",
                *("-t", "2", "-c", "8", "-d", f"{duration}s", "--latency"),
                *("-s", str(workdir / "post.lua"), f"http://{HOST}:{port}/token"),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        ).stdout
        used = cpu_seconds(pids) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    done = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    return {
        "app": name,
        "requests": done,
        "per_s": done / duration,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "cpu_ms_per_request": used / max(done, 1) * 1000,
        "non_2xx": "Non-2xx" in out,
    }


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _latency(out: str, label: str) -> float:
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == [label]:
            value = parts[1]
            for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
                if value.endswith(unit):
                    return float(value[: -len(unit)]) * factor
    return float("nan")


def argon2_verify_ms() -> float:
    """One argon2id verify at idp's cost (OWASP minimum), as bench.py measures it."""
    from argon2 import PasswordHasher

    settings = _argon2_settings()
    stored = PasswordHasher(
        memory_cost=settings["ARGON2_MEMORY_KIB"],
        time_cost=settings["ARGON2_TIME_COST"],
        parallelism=settings["ARGON2_PARALLELISM"],
    ).hash(PASSWORD)
    return argon2_verify_cpu(stored)["cpu_ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per application")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 600:
        parser.error("duration must be 1..600 s")
    if shutil.which("wrk") is None:
        parser.error("wrk is needed (apt-get install wrk)")
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="idp-floor-") as tmp:
        workdir = Path(tmp)
        (workdir / "post.lua").write_text(WRK_SCRIPT)
        results = {name: measure(name, workdir, args.duration) for name in APPS}
    argon = argon2_verify_ms()
    print(f"== floor: gunicorn -w 2 (sync), wrk 8 connections, {args.duration} s, {cpus} CPUs ==")
    print(f"{'':10}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}")
    for row in results.values():
        print(
            f"{row['app']:10}{row['per_s']:9.0f}{row['p50_ms']:8.2f}{row['p99_ms']:8.2f}"
            f"{row['cpu_ms_per_request']:12.3f}" + ("  (non-2xx!)" if row["non_2xx"] else "")
        )
    flask_ms = results["flask"]["cpu_ms_per_request"]
    print()
    for grant, per_s in TARGETS.items():
        budget = cpus / per_s * 1000
        print(
            f"{grant} ≥ {per_s}/s on {cpus} CPUs: {budget:.2f} ms of CPU per grant in all "
            f"(server, database, load generator); the Flask floor takes {flask_ms:.2f} ms, "
            f"{flask_ms / budget * 100:.0f} % of it"
        )
    login_floor = LOGIN_REQUESTS * flask_ms
    print(
        f"password login: {LOGIN_REQUESTS} requests × {flask_ms:.2f} ms = {login_floor:.2f} ms "
        f"before any work of idp; argon2id verify {argon:.1f} ms → the floor alone is "
        f"{(argon + login_floor) / argon * 100:.0f} % of one verify (target ≤ 115 %), "
        f"leaving {max(0.0, 0.15 * argon - login_floor):.2f} ms for everything else"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"apps": results, "argon2_ms": argon, "cpus": cpus}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
