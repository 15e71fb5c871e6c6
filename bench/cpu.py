"""Server CPU per request, measured in-process (Flask test client), and where it goes.

    python bench/cpu.py [--db sqlite|postgresql] [--rounds 300] [--profile refresh|cc|login]
                        [--db-part]

Unlike bench/bench.py this starts no server: it builds the app as gunicorn would (same
settings, same fixtures), drives it with Flask's test client and measures
`time.process_time()` per operation, which depends far less on the rest of a shared
machine's load than throughput does (still ±25 %: alternate A/B runs). `--profile` prints the top of a cProfile of one kind of operation. Tables come
from the models (create_all), not the migrations.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402


def _create_all(revision: str = "heads") -> None:
    # The models as they are now (the shared checkout's migrations may lag behind them).
    from idp.extensions import db

    db.create_all()


def build(kind: str, workdir: Path):
    import flask_migrate

    flask_migrate.upgrade = _create_all
    url = bench.prepare_database(kind, workdir)
    setup = bench.create_fixtures(url, workdir)
    from idp import create_app

    app = create_app(
        {
            "DATABASE_URL": setup.url,
            "KEYS_DIR": setup.keys_dir,
            "SECRET_KEY": setup.secret_key,
            "ISSUER": f"http://{bench.HOST}",
            "LOGIN_RATE_LIMIT": "100000000 per minute",
            "LOGIN_ACCOUNT_RATE_LIMIT": "100000000 per minute",
            **bench._argon2_settings(),
        }
    )
    return app, setup


class ServerClock:
    """WSGI middleware adding up the process CPU time spent inside the app."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.seconds = 0.0
        self.steps: list[tuple[str, float]] | None = None  # per request, when asked

    def __call__(self, environ, start_response):
        started = time.process_time()
        try:
            iterable = self.wsgi_app(environ, start_response)
            try:
                body = b"".join(iterable)
            finally:
                if hasattr(iterable, "close"):
                    iterable.close()
        finally:
            spent = time.process_time() - started
            self.seconds += spent
            if self.steps is not None:
                self.steps.append((f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}", spent))
        return [body]


def _basic(setup) -> dict[str, str]:
    raw = f"{setup.client_id}:{setup.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def login(client, setup) -> dict:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": setup.client_id,
            "redirect_uri": bench.REDIRECT_URI,
            "scope": bench.SCOPE,
            "state": "st",
            "nonce": "nn",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    client._cookies.clear()
    first = client.get(f"/authorize?{query}")
    assert first.status_code == 302, first.status_code
    page = client.get(first.headers["Location"])
    csrf = bench.CSRF_RE.search(page.get_data(as_text=True)).group(1)
    posted = client.post(
        first.headers["Location"],
        data={"identifier": bench.EMAIL, "password": bench.PASSWORD, "csrf_token": csrf},
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)[:300]
    again = client.get(posted.headers["Location"])
    assert again.status_code == 302
    code = parse_qs(urlsplit(again.headers["Location"]).query)["code"][0]
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": bench.REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers=_basic(setup),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--profile", choices=["refresh", "cc", "login"])
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--callees", nargs="*", help="pstats patterns whose callees to print")
    parser.add_argument(
        "--db-part",
        action="store_true",
        help="also time a client_credentials grant's writes alone (session, bare sqlite3)",
    )
    parser.add_argument(
        "--login-steps",
        action="store_true",
        help="also print a password login's CPU request by request",
    )
    args = parser.parse_args(argv)
    os.environ.pop("IDP_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="idp-cpu-") as tmp:
        app, setup = build(args.db, Path(tmp))
        clock = ServerClock(app.wsgi_app)
        app.wsgi_app = clock
        client = app.test_client()
        headers = _basic(setup)
        state = {"rt": login(client, setup)["refresh_token"]}

        def refresh():
            r = client.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": state["rt"]},
                headers=headers,
            )
            assert r.status_code == 200, r.get_data(as_text=True)
            state["rt"] = r.get_json()["refresh_token"]

        def cc():
            r = client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
            assert r.status_code == 200, r.get_data(as_text=True)

        def one_login():
            login(client, setup)

        ops = {"refresh": (refresh, args.rounds), "cc": (cc, args.rounds)}
        ops["login"] = (one_login, max(10, args.rounds // 10))
        from argon2 import PasswordHasher

        ph = PasswordHasher()
        argon = []
        for _ in range(20):
            t = time.process_time()
            ph.verify(setup.password_hash, bench.PASSWORD)
            argon.append(time.process_time() - t)
        argon_ms = statistics.median(argon) * 1000
        for name, (fn, rounds) in ops.items():
            if args.profile and name != args.profile:
                continue
            for _ in range(min(20, rounds)):
                fn()  # warm-up
            if args.profile:
                prof = cProfile.Profile(time.process_time)
                prof.enable()
            samples, inside = [], []
            for _ in range(rounds):
                t, s0 = time.process_time(), clock.seconds
                fn()
                samples.append(time.process_time() - t)
                inside.append(clock.seconds - s0)
            if args.profile:
                prof.disable()
                stats = pstats.Stats(prof)
                stats.sort_stats("cumulative").print_stats(args.top)
                stats.sort_stats("tottime").print_stats(args.top)
                for pattern in args.callees or []:
                    stats.sort_stats("cumulative").print_callees(pattern)
                    stats.print_callers(pattern)
            mean = statistics.fmean(samples) * 1000
            server = statistics.fmean(inside) * 1000
            med = statistics.median(inside) * 1000
            extra = f"  = {100 * server / argon_ms:.0f} % of argon2" if name == "login" else ""
            print(
                f"{name:8s} server CPU/op mean {server:6.2f} ms  median {med:6.2f} ms  "
                f"(with test client {mean:6.2f} ms)  n={rounds}{extra}"
            )
        print(f"argon2id verify CPU median {argon_ms:.2f} ms")
        if args.login_steps:
            per_step: dict[tuple[int, str], list[float]] = {}
            verifies = []
            for _ in range(max(10, args.rounds // 10)):
                t = time.process_time()  # interleaved: a shared machine's speed moves
                ph.verify(setup.password_hash, bench.PASSWORD)
                verifies.append(time.process_time() - t)
                clock.steps = []
                one_login()
                for i, (key, spent) in enumerate(clock.steps):
                    per_step.setdefault((i, key), []).append(spent)
            clock.steps = None
            argon_ms = statistics.median(verifies) * 1000
            print(
                "a password login, request by request (server CPU, median), against one "
                f"argon2id verify timed between the logins ({argon_ms:.2f} ms):"
            )
            total = 0.0
            for (_, key), spent in per_step.items():
                med = statistics.median(spent) * 1000
                total += med
                print(f"  {key:16s} {med:6.2f} ms = {100 * med / argon_ms:5.1f} % of argon2")
            print(f"  {'sum':16s} {total:6.2f} ms = {100 * total / argon_ms:5.1f} % of argon2")
        if args.db_part:
            db_part(app, setup, args.rounds * 5)
    return 0


def _token_row(setup) -> dict:
    """The row a client_credentials grant stores (as idp.oidc.server.save_token does)."""
    import datetime as dt

    from idp.models import utcnow
    from idp.security import tokens

    now = utcnow()
    return {
        "client_id": setup.client_id,
        "account_id": None,
        "access_token_hash": tokens.sha256(secrets.token_urlsafe(32)),
        "refresh_token_hash": None,
        "scope": "openid",
        "family_id": tokens.new_token(16),
        "sid": None,
        "auth_time": None,
        "acr": None,
        "amr": [],
        "claims_request": None,
        "issued_at": now,
        "access_expires_at": now + dt.timedelta(seconds=600),
        "refresh_expires_at": None,
        "revoked_at": None,
        "rotated_at": None,
    }


def db_part(app, setup, rounds: int) -> None:
    """What a client_credentials grant's writes cost alone: the token and audit INSERTs and
    the COMMIT, through the app's session as the grant does them, and (SQLite) the same
    statements through a bare sqlite3 connection, to tell the ORM's share from SQLite's."""
    import sqlite3

    from idp.extensions import db
    from idp.models import AuditEvent
    from idp.models import utcnow
    from idp.oidc.server import _stmt
    from idp.security import audit

    def timed_together(*fns) -> list[float]:
        """ms per call of each, timed in alternating blocks (a shared machine's speed moves
        within seconds: one after the other, the later one would pay for it)."""
        for fn in fns:
            for _ in range(100):
                fn()
        blocks = 10
        per_block = max(1, rounds // blocks)
        spent: list[list[float]] = [[] for _ in fns]
        for _ in range(blocks):
            for i, fn in enumerate(fns):
                started = time.process_time()
                for _ in range(per_block):
                    fn()
                spent[i].append((time.process_time() - started) / per_block * 1000)
        return [statistics.median(times) for times in spent]

    with app.test_request_context("/token", method="POST"):
        token_insert = _stmt().token_insert  # an idp.direct.Direct
        audit_insert = AuditEvent.__table__.insert()

        def audit_row() -> dict:
            return {
                "created_at": utcnow(),
                "event": "token.issued",
                "account_id": None,
                "client_id": setup.client_id,
                "ip": None,
                "user_agent": None,
                "details": {"grant": "client_credentials"},
            }

        def through_session():
            # As the grant does: idp.direct on the session's DBAPI connection.
            token_insert.execute(_token_row(setup))
            audit.record("token.issued", client_id=setup.client_id, grant="client_credentials")
            db.session.commit()

        def through_connection_execute():
            # As the grant did before idp.direct: SQLAlchemy's Connection.execute.
            connection = db.session.connection()
            connection.execute(token_insert.statement, _token_row(setup))
            connection.execute(audit_insert, audit_row())
            db.session.commit()

        def transaction_only():
            db.session.connection()
            db.session.commit()

        fns = [through_session, transaction_only, through_connection_execute]
        if setup.url.startswith("sqlite:///"):
            compiled = token_insert.statement.compile(
                dialect=db.engine.dialect, column_keys=list(_token_row(setup))
            )
            processors = compiled._bind_processors
            order = compiled.positiontup
            bare = sqlite3.connect(setup.url.removeprefix("sqlite:///"), isolation_level=None)
            bare.execute("PRAGMA synchronous=NORMAL")  # as idp.sqlite sets it (WAL mode)

            def through_sqlite3():
                row = _token_row(setup)
                values = tuple(processors[k](row[k]) if k in processors else row[k] for k in order)
                bare.execute("BEGIN")
                bare.execute(compiled.string, values)
                bare.execute(
                    "INSERT INTO audit_event (created_at, event, client_id, details) "
                    "VALUES (?, ?, ?, ?)",
                    (values[order.index("issued_at")], "token.issued", setup.client_id, "{}"),
                )
                bare.execute("COMMIT")

            fns.append(through_sqlite3)
        session_ms, empty_ms, execute_ms, *bare_ms = timed_together(*fns)
        print(
            f"cc writes through the session {session_ms:.3f} ms per grant "
            f"(of which an empty session transaction {empty_ms:.3f} ms)"
        )
        print(f"the same through Connection.execute {execute_ms:.3f} ms per grant")
        if bare_ms:
            print(f"the same writes, bare sqlite3        {bare_ms[0]:.3f} ms per grant")
            bare.close()


if __name__ == "__main__":
    raise SystemExit(main())
