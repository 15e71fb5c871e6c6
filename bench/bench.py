"""Throughput, latency, CPU and memory of idp served by gunicorn, measured over loopback.

    python bench/bench.py [--db sqlite|postgresql|both] [--duration 10] [--concurrency 8]
                          [--workers 2] [--threads 0] [--scale] [--json results.json]
                          [--load-generator auto|wrk|python] [--repeat N]

For each database: a fresh database (SQLite file in a temporary directory, or the
PostgreSQL database of IDP_BENCH_PG_URL, created if missing and emptied), the
Alembic migrations, a signing key, a confidential client and an account hashed with
the production argon2id cost; then `gunicorn -w 2 wsgi:app` on 127.0.0.1 and a
bounded load: wrk (bench/wrk/*.lua) for the grant phases when it is installed, else
threads of this process (one requests.Session each), which always run the logins:

  a) refresh_token grants (each thread rotates its own refresh token chain)
  b) client_credentials grants
  c) complete password logins (authorize → login page → POST → authorize → token)
  d) the server's CPU seconds per login against one argon2id verify alone
  e) the server's memory at the end (PSS summed over gunicorn master + workers; summed RSS shown)
  f) --scale: 1,000,000 accounts and 5,000,000 tokens, latency against the baseline
     of 1,000 accounts and 5,000 tokens

See bench/README.md. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench"
EMAIL = "bench.user@example.fr"
PASSWORD = "Bench-Mot-de-passe-2026"  # noqa: S105 - a throwaway account in a throwaway database
REDIRECT_URI = f"http://{HOST}:9/callback"  # never contacted: the bench only reads Location
SCOPE = "openid profile email"
HTTP_TIMEOUT = 10
#: Upper bound on operations per thread and phase, whatever the duration.
MAX_OPS_PER_THREAD = 200_000
BASELINE_ACCOUNTS = 1_000
BASELINE_TOKENS = 5_000
SCALE_ACCOUNTS = 1_000_000
SCALE_TOKENS = 5_000_000
#: What the figures are compared with (see bench/README.md).
TARGETS = {
    "refresh_per_s": 800,
    "client_credentials_per_s": 2000,
    "p99_ms": 30,
    "login_cpu_pct": 115,
    "rss_mb": 200,
    "scale_ratio": 1.2,
}
CSRF_RE = re.compile(r'name="csrf_token"[^>]*\svalue="([^"]+)"')
CLK_TCK = os.sysconf("SC_CLK_TCK")
WRK_DIR = Path(__file__).resolve().parent / "wrk"
WRK_MARK = "BENCH-WRK-JSON "
PYTHON_GENERATOR = "python requests"


# ---------------------------------------------------------------------------
# database
# ---------------------------------------------------------------------------
def _pg_conninfo(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def prepare_database(kind: str, workdir: Path) -> str:
    """A fresh, empty database; return its SQLAlchemy URL."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'idp.sqlite3'}"
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = os.environ.get("IDP_BENCH_PG_URL", DEFAULT_PG_URL)
    name = make_url(url).database
    if not name:
        raise SystemExit("IDP_BENCH_PG_URL must name a database")
    host = make_url(url).host or ""
    if host not in {"127.0.0.1", "localhost", "::1", ""}:
        raise SystemExit(f"the bench only talks to loopback, not {host}")
    with psycopg.connect(_pg_conninfo(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_pg_conninfo(url), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
        for table in tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
    return url


@dataclass
class Setup:
    url: str
    keys_dir: str
    secret_key: str
    client_id: str
    client_secret: str
    password_hash: str


def _argon2_settings() -> dict[str, int]:
    from idp.config import Defaults

    return {
        "ARGON2_MEMORY_KIB": Defaults.ARGON2_MEMORY_KIB,
        "ARGON2_TIME_COST": Defaults.ARGON2_TIME_COST,
        "ARGON2_PARALLELISM": Defaults.ARGON2_PARALLELISM,
    }


def create_fixtures(url: str, workdir: Path) -> Setup:
    """Migrations, a key, the confidential client and the account (production argon2)."""
    from flask_migrate import upgrade

    from idp import create_app
    from idp.accounts import create_account
    from idp.extensions import db
    from idp.oidc.clients import create_client

    keys_dir = workdir / "keys"
    keys_dir.mkdir()
    secret_key = secrets.token_urlsafe(48)
    app = create_app(
        {
            "DATABASE_URL": url,
            "KEYS_DIR": str(keys_dir),
            "SECRET_KEY": secret_key,
            "ISSUER": f"http://{HOST}",
            **_argon2_settings(),
        }
    )
    with app.app_context():
        # "heads", like tests/conftest.py: several heads may exist while branches are merged.
        upgrade(revision="heads")
        app.extensions["idp_keys"].generate("RS256")
        registered = create_client(
            name="bench",
            client_id="bench-portal",
            redirect_uris=[REDIRECT_URI],
            scope=SCOPE,
            grants=["authorization_code", "refresh_token", "client_credentials"],
        )
        account = create_account(
            email=EMAIL,
            password=PASSWORD,
            given_name="Bench",
            family_name="MARK",
            active=True,
        )
        db.session.commit()
        setup = Setup(
            url=url,
            keys_dir=str(keys_dir),
            secret_key=secret_key,
            client_id=registered.client.client_id,
            client_secret=registered.secret or "",
            password_hash=account.password_hash or "",
        )
        db.session.remove()
        db.engine.dispose()
    return setup


# bulk seeding (dummy hashes, no argon2) ------------------------------------
ACCOUNT_COLUMNS = (
    "sub",
    "status",
    "email",
    "email_verified_at",
    "username",
    "password_hash",
    "password_set_at",
    "given_name",
    "family_name",
    "created_at",
    "updated_at",
)
TOKEN_COLUMNS = (
    "client_id",
    "account_id",
    "access_token_hash",
    "refresh_token_hash",
    "scope",
    "family_id",
    "sid",
    "auth_time",
    "acr",
    "amr",
    "issued_at",
    "access_expires_at",
    "refresh_expires_at",
    "revoked_at",
    "rotated_at",
)
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$" + "A" * 43
CHUNK = 50_000


def _account_rows(start: int, stop: int, stamp: str):
    for i in range(start, stop):
        yield (
            f"00000000-0000-4000-8000-{i:012d}",
            "active",
            f"user{i:07d}@bench.example",
            stamp,
            f"user{i:07d}" if i % 2 else None,
            DUMMY_HASH,
            stamp,
            "Prénom",
            f"NOM{i}",
            stamp,
            stamp,
        )


def _token_rows(start: int, stop: int, client_id: str, accounts: int, stamps: dict[str, str]):
    sha = hashlib.sha256
    for i in range(start, stop):
        # Most rows are what a live system accumulates: rotated refresh chains.
        live = i % 3 == 0
        yield (
            client_id,
            (i * 7919) % accounts + 1,
            sha(b"at%d" % i).hexdigest(),
            sha(b"rt%d" % i).hexdigest(),
            SCOPE,
            f"fam{i // 3:09d}",
            f"sid{i // 6:09d}",
            1_700_000_000 + i,
            "eidas1",
            '["pwd"]',
            stamps["past"],
            stamps["past"] if not live else stamps["soon"],
            stamps["later"],
            None,
            None if live else stamps["past"],
        )


def _stamps() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    return {
        "now": now.strftime(fmt),
        "past": (now - dt.timedelta(hours=1)).strftime(fmt),
        "soon": (now + dt.timedelta(minutes=10)).strftime(fmt),
        "later": (now + dt.timedelta(days=30)).strftime(fmt),
    }


def _chunks(rows, size: int = CHUNK):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def _seed_sqlite(path: str, accounts: range, tokens: range, client_id: str, total: int) -> None:
    import sqlite3

    stamps = _stamps()
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB for this connection only
        with conn:
            for chunk in _chunks(_account_rows(accounts.start, accounts.stop, stamps["now"])):
                conn.executemany(_insert_sql("account", ACCOUNT_COLUMNS), chunk)
        rows = _token_rows(tokens.start, tokens.stop, client_id, total, stamps)
        for chunk in _chunks(rows):
            with conn:
                conn.executemany(_insert_sql("oauth_token", TOKEN_COLUMNS), chunk)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _seed_postgresql(url: str, accounts: range, tokens: range, client_id: str, total: int) -> None:
    import psycopg

    stamps = {k: v + "+00" for k, v in _stamps().items()}
    with psycopg.connect(_pg_conninfo(url)) as conn:
        with conn.cursor() as cur:
            for table, columns, rows in (
                (
                    "account",
                    ACCOUNT_COLUMNS,
                    _account_rows(accounts.start, accounts.stop, stamps["now"]),
                ),
                (
                    "oauth_token",
                    TOKEN_COLUMNS,
                    _token_rows(tokens.start, tokens.stop, client_id, total, stamps),
                ),
            ):
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with cur.copy(statement) as copy:
                    for chunk in _chunks(rows):
                        lines = ["\t".join(map(_copy_text, row)) for row in chunk]
                        copy.write("\n".join(lines) + "\n")
                conn.commit()
        # What autovacuum would soon do on a live database; done now so that it does not
        # run (nor the checkpoint of the bulk load) while latency is measured.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        # CHECKPOINT needs superuser or pg_checkpoint; without it the figures are noisier.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def bulk_seed(setup: Setup, accounts: range, tokens: range) -> float:
    """Insert dummy accounts and tokens; return the seconds it took."""
    started = time.perf_counter()
    total_accounts = accounts.stop
    if setup.url.startswith("sqlite"):
        path = setup.url.removeprefix("sqlite:///")
        _seed_sqlite(path, accounts, tokens, setup.client_id, total_accounts)
    else:
        _seed_postgresql(setup.url, accounts, tokens, setup.client_id, total_accounts)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def process_tree(master: int) -> list[int]:
    """A process and its children (found through /proc)."""
    found = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master:
            found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # clock ticks
    return total / CLK_TCK


class Server:
    """gunicorn serving wsgi:app on 127.0.0.1, and its processes' CPU and memory."""

    def __init__(
        self,
        setup: Setup,
        workers: int,
        workdir: Path,
        token_format: str | None,
        threads: int = 0,
    ):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.workers = workers
        self.threads = threads
        self.log_path = workdir / "gunicorn.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
            "IDP_DATABASE_URL": setup.url,
            "IDP_KEYS_DIR": setup.keys_dir,
            "IDP_SECRET_KEY": setup.secret_key,
            "IDP_ISSUER": self.base,
            "IDP_LOGIN_RATE_LIMIT": "100000000 per minute",
            "IDP_LOGIN_ACCOUNT_RATE_LIMIT": "100000000 per minute",
            **({"IDP_ACCESS_TOKEN_FORMAT": token_format} if token_format else {}),
            **{f"IDP_{k}": str(v) for k, v in _argon2_settings().items()},
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
        command += ["-w", str(self.workers), "-b", f"{HOST}:{self.port}"]
        if self.threads:
            # gthread workers keep connections alive (sync workers close each one).
            command += ["-k", "gthread", "--threads", str(self.threads)]
        command.append("wsgi:app")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                url = f"{self.base}/.well-known/openid-configuration"
                if requests.get(url, timeout=2).status_code == 200 and len(self.pids()) > 1:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 60 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def pids(self) -> list[int]:
        """The master and its workers."""
        assert self.process is not None
        return process_tree(self.process.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def memory_mb(self) -> dict[str, float]:
        """Sum of RSS (shared pages counted in every process) and of PSS, in MB."""
        rss = pss = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rss += int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                pss += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))
            except (OSError, AttributeError):
                continue
        return {"rss_mb": rss / 1024, "pss_mb": pss / 1024, "processes": len(self.pids())}


# ---------------------------------------------------------------------------
# HTTP operations (each returns normally on success, raises on anything else)
# ---------------------------------------------------------------------------
class BenchError(Exception):
    pass


def _expect(response: requests.Response, status: int) -> requests.Response:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {urlsplit(response.url).path} → "
            f"{response.status_code}: {response.text[:200]!r}"
        )
    return response


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Client:
    def __init__(self, base: str, setup: Setup):
        self.base = base
        self.auth = (setup.client_id, setup.client_secret)
        self.client_id = setup.client_id

    def token(self, session: requests.Session, data: dict[str, str]) -> dict[str, Any]:
        response = session.post(
            f"{self.base}/token", data=data, auth=self.auth, timeout=HTTP_TIMEOUT
        )
        return _expect(response, 200).json()

    def login(self, steps: dict[str, float] | None = None) -> dict[str, Any]:
        """One complete password login in a fresh browser-like session; return the tokens."""
        marks = [time.perf_counter()]
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        verifier, challenge = _pkce()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPE,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        with requests.Session() as session:
            get = {"allow_redirects": False, "timeout": HTTP_TIMEOUT}
            first = _expect(session.get(f"{self.base}/authorize?{query}", **get), 302)
            login_url = urljoin(self.base, first.headers["Location"])
            if urlsplit(login_url).path != "/connexion":
                raise BenchError(f"authorize sent to {login_url}, not to the login page")
            marks.append(time.perf_counter())
            page = _expect(session.get(login_url, **get), 200)
            match = CSRF_RE.search(page.text)
            if not match:
                raise BenchError("no csrf_token on the login page")
            marks.append(time.perf_counter())
            posted = session.post(
                login_url,
                data={"identifier": EMAIL, "password": PASSWORD, "csrf_token": match.group(1)},
                **get,
            )
            _expect(posted, 302)
            marks.append(time.perf_counter())
            again = _expect(session.get(urljoin(self.base, posted.headers["Location"]), **get), 302)
            callback = again.headers["Location"]
            params = parse_qs(urlsplit(callback).query)
            if not callback.startswith(REDIRECT_URI) or params.get("state") != [state]:
                raise BenchError(f"unexpected redirect {callback[:120]}")
            marks.append(time.perf_counter())
            tokens = self.token(
                session,
                {
                    "grant_type": "authorization_code",
                    "code": params["code"][0],
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                },
            )
            marks.append(time.perf_counter())
        if "id_token" not in tokens or "refresh_token" not in tokens:
            raise BenchError("token response without id_token or refresh_token")
        if steps is not None:
            names = ("authorize", "login_page", "login_post", "authorize_again", "token")
            for name, (a, b) in zip(names, zip(marks, marks[1:], strict=False), strict=True):
                steps[name] = steps.get(name, 0.0) + (b - a)
        return tokens


# ---------------------------------------------------------------------------
# load phases
# ---------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    per_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    first_error: str | None = None
    steps_ms: dict[str, float] = field(default_factory=dict)
    generator: str = PYTHON_GENERATOR
    #: wrk only: its error counts, the scripts' counters and the rotation check.
    checks: dict[str, Any] = field(default_factory=dict)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_phase(
    name: str,
    server: Server,
    concurrency: int,
    duration: float,
    init: Callable[[], Any],
    operation: Callable[[Any], Any],
) -> Phase:
    """`concurrency` threads call `operation(state)` until the deadline or the op cap.

    `init()` runs in each thread before the clock starts (e.g. to get a refresh token).
    `operation` returns the state for the next call; an exception counts as an error.
    """
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    first_error: list[str] = []
    ready = threading.Barrier(concurrency + 1, timeout=120)
    go = threading.Event()
    deadline = [0.0]

    def worker(index: int) -> None:
        state = init()
        ready.wait()
        go.wait()
        mine = latencies[index]
        for _ in range(MAX_OPS_PER_THREAD):
            if time.perf_counter() >= deadline[0]:
                break
            started = time.perf_counter()
            try:
                state = operation(state)
            except (requests.RequestException, BenchError, KeyError, ValueError) as exc:
                errors[index] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.01)
                state = init()
                continue
            mine.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    deadline[0] = started + duration
    go.set()
    for thread in threads:
        thread.join(timeout=duration + 2 * HTTP_TIMEOUT + 30)
    elapsed = time.perf_counter() - started
    cpu_after, client_after = server.cpu_seconds(), time.process_time()
    values = sorted(v for per_thread in latencies for v in per_thread)
    return Phase(
        name=name,
        ops=len(values),
        errors=sum(errors),
        seconds=elapsed,
        p50_ms=percentile(values, 50) * 1000,
        p99_ms=percentile(values, 99) * 1000,
        mean_ms=(statistics.fmean(values) * 1000) if values else math.nan,
        per_s=len(values) / elapsed if elapsed else 0.0,
        server_cpu_s=cpu_after - cpu_before,
        client_cpu_s=client_after - client_before,
        first_error=first_error[0] if first_error else None,
    )


def _cpu_per_op(phase: Phase) -> float:
    return phase.server_cpu_s / max(phase.ops, 1) or math.nan


# wrk (grant phases) ---------------------------------------------------------
@dataclass
class Wrk:
    """wrk, the native load generator of the grant phases (Debian package `wrk`)."""

    path: str
    version: str
    threads: int
    connections: int

    @classmethod
    def find(cls, concurrency: int) -> Wrk | None:
        path = shutil.which("wrk")
        if path is None:
            return None
        # `wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] Copyright…" and exits with 1.
        shown = subprocess.run(
            [path, "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.split()
        version = shown[1] if len(shown) > 1 else "?"
        # wrk gives each thread connections // threads connections: keep them all.
        threads = 2 if concurrency % 2 == 0 else 1
        return cls(path=path, version=version, threads=threads, connections=concurrency)

    def run(
        self, name: str, server: Server, duration: float, script: str, args: list[str]
    ) -> Phase:
        """Run wrk for one phase; server CPU and wrk's own CPU around it, like run_phase."""
        seconds = max(1, round(duration))  # wrk's -d takes whole seconds
        command = [
            self.path,
            "-t",
            str(self.threads),
            "-c",
            str(self.connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            f"{HTTP_TIMEOUT}s",
            "-s",
            str(WRK_DIR / script),
            server.base,
            "--",
            *args,
        ]
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before, own_before = server.cpu_seconds(), time.process_time()
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + 2 * HTTP_TIMEOUT + 30,
            check=False,
        )
        cpu_after, own_after = server.cpu_seconds(), time.process_time()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # wrk is the only child that exits meanwhile (gunicorn runs on).
        wrk_cpu = (children_after.ru_utime - children_before.ru_utime) + (
            children_after.ru_stime - children_before.ru_stime
        )
        lines = [x for x in finished.stdout.splitlines() if x.startswith(WRK_MARK)]
        if finished.returncode != 0 or not lines:
            raise RuntimeError(
                f"wrk failed ({finished.returncode}) in phase {name}: "
                f"{finished.stderr.strip()[-2000:]}\n{finished.stdout.strip()[-2000:]}"
            )
        out = json.loads(lines[-1].removeprefix(WRK_MARK))
        wrk_errors = out["errors"]
        # wrk counts only statuses > 399; the scripts count every non-2xx response and
        # every 2xx without the expected token (bad_body).
        transport = sum(wrk_errors[k] for k in ("connect", "read", "write", "timeout"))
        errors = out["non2xx"] + out["bad_body"] + transport
        elapsed = out["duration_us"] / 1e6
        first_error = None
        if errors:
            parts = [
                f"{out['non2xx']} non-2xx responses" if out["non2xx"] else "",
                f"{out['bad_body']} 2xx without the token" if out["bad_body"] else "",
                *(f"{v} {k} errors" for k, v in wrk_errors.items() if v and k != "status"),
            ]
            first_error = "wrk: " + ", ".join(p for p in parts if p)
            if out["first_error"]:
                first_error += f"; first: {out['first_error'][:160]}"
        latency = out["latency_us"]
        return Phase(
            name=name,
            ops=out["ok"],
            errors=errors,
            seconds=elapsed,
            p50_ms=latency["p50"] / 1000,
            p99_ms=latency["p99"] / 1000,
            mean_ms=latency["mean"] / 1000,
            per_s=out["ok"] / elapsed if elapsed else 0.0,
            server_cpu_s=cpu_after - cpu_before,
            client_cpu_s=wrk_cpu + (own_after - own_before),
            first_error=first_error,
            generator="wrk",
            checks={
                "wrk_cpu_s": wrk_cpu,
                "requests": out["requests"],
                "errors": wrk_errors,
                **{k: out[k] for k in ("ok", "non2xx", "bad_body", "empty_queue")},
                "ok_per_thread": out["ok_per_thread"],
                # Every response wrk read went through response(): ok, non2xx or bad_body.
                "responses_add_up": out["requests"] == out["ok"] + out["non2xx"] + out["bad_body"],
            },
        )


def _db_scalar(url: str, query: str, params: tuple = ()) -> int:
    """One integer from the bench database, outside the server (bookkeeping, untimed)."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            return int(conn.execute(query, params).fetchone()[0] or 0)
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(_pg_conninfo(url)) as conn:
        return int(conn.execute(query.replace("?", "%s"), params).fetchone()[0] or 0)


def _max_token_id(url: str) -> int:
    return _db_scalar(url, "SELECT max(id) FROM oauth_token")


def wrk_refresh(
    wrk: Wrk, server: Server, setup: Setup, client: Client, duration: float, workdir: Path
) -> Phase:
    """Refresh grants with wrk: one fresh token chain per connection, then a rotation check."""
    before_logins = _max_token_id(setup.url)
    with ThreadPoolExecutor(max_workers=wrk.connections) as pool:
        tokens = list(pool.map(lambda _: client.login()["refresh_token"], range(wrk.connections)))
    # A new file for every measure() (--scale runs it again): these tokens are unused.
    path = workdir / f"refresh-tokens-{secrets.token_hex(4)}.txt"
    path.write_text("".join(f"{token}\n" for token in tokens))
    before = _max_token_id(setup.url)
    args = [str(path), str(wrk.threads), setup.client_id, setup.client_secret]
    phase = wrk.run("refresh", server, duration, "refresh.lua", args)
    # Each successful refresh grant inserts one token row (and marks the old one rotated).
    # Requests still in flight when wrk stopped may add up to one per connection; a
    # rotated token sent again would revoke its family (revoked_at set).
    issued = _db_scalar(setup.url, "SELECT count(*) FROM oauth_token WHERE id > ?", (before,))
    revoked = _db_scalar(
        setup.url,
        "SELECT count(*) FROM oauth_token WHERE id > ? AND revoked_at IS NOT NULL",
        (before_logins,),
    )
    ok = phase.checks["ok"]
    rotated = ok <= issued <= ok + wrk.connections and revoked == 0
    phase.checks.update(
        {
            "tokens_given": len(tokens),
            "server_tokens_issued": issued,
            "server_tokens_revoked": revoked,
            "rotation_ok": rotated and phase.checks["responses_add_up"],
        }
    )
    if not phase.checks["rotation_ok"]:
        problem = (
            f"rotation check failed: {ok} refresh grants answered, {issued} tokens issued by "
            f"the server, {revoked} revoked, {phase.checks['requests']} responses"
        )
        phase.errors = max(phase.errors, 1)
        phase.first_error = f"{phase.first_error}; {problem}" if phase.first_error else problem
    return phase


def wrk_client_credentials(wrk: Wrk, server: Server, setup: Setup, duration: float) -> Phase:
    phase = wrk.run(
        "client_credentials", server, duration, "cc.lua", [setup.client_id, setup.client_secret]
    )
    if not phase.checks["responses_add_up"]:
        phase.errors = max(phase.errors, 1)
        problem = "wrk: responses do not add up (ok + non-2xx + bad body ≠ requests)"
        phase.first_error = f"{phase.first_error}; {problem}" if phase.first_error else problem
    return phase


def measure(
    server: Server,
    setup: Setup,
    concurrency: int,
    duration: float,
    wrk: Wrk | None = None,
    workdir: Path | None = None,
) -> dict[str, Phase]:
    """The three phases; the grant phases with wrk if given, else with Python threads."""
    client = Client(server.base, setup)

    def refresh_init() -> dict[str, Any]:
        return {"session": requests.Session(), "refresh_token": client.login()["refresh_token"]}

    def refresh(state: dict[str, Any]) -> dict[str, Any]:
        tokens = client.token(
            state["session"],
            {"grant_type": "refresh_token", "refresh_token": state["refresh_token"]},
        )
        state["refresh_token"] = tokens["refresh_token"]  # rotated: the old one is spent
        return state

    def cc_init() -> requests.Session:
        return requests.Session()

    def client_credentials(session: requests.Session) -> requests.Session:
        tokens = client.token(session, {"grant_type": "client_credentials"})
        if "access_token" not in tokens:
            raise BenchError("client_credentials without access_token")
        return session

    steps: dict[str, float] = {}
    steps_lock = threading.Lock()

    def login(_: Any) -> None:
        mine: dict[str, float] = {}
        client.login(mine)
        with steps_lock:
            for key, value in mine.items():
                steps[key] = steps.get(key, 0.0) + value

    # Warm-up: every worker loads its keys, templates and connections first.
    warm = requests.Session()
    for _ in range(2 * server.workers):
        client.login()
        client.token(warm, {"grant_type": "client_credentials"})

    if wrk is not None:
        assert workdir is not None
        phases = {
            "refresh": wrk_refresh(wrk, server, setup, client, duration, workdir),
            "client_credentials": wrk_client_credentials(wrk, server, setup, duration),
        }
    else:
        phases = {
            "refresh": run_phase("refresh", server, concurrency, duration, refresh_init, refresh),
            "client_credentials": run_phase(
                "client_credentials", server, concurrency, duration, cc_init, client_credentials
            ),
        }
    # The verify alone is measured right before and right after the login phase: a shared
    # machine's speed moves within minutes, and the ratio must compare like with like.
    verify_before = argon2_verify_cpu(setup.password_hash)
    phases["login"] = run_phase("login", server, concurrency, duration, lambda: None, login)
    verify_after = argon2_verify_cpu(setup.password_hash)
    done = phases["login"].ops or 1
    phases["login"].steps_ms = {k: v / done * 1000 for k, v in steps.items()}
    phases["login"].checks = {
        "argon2_cpu_ms_before": verify_before["cpu_ms"],
        "argon2_cpu_ms_after": verify_after["cpu_ms"],
        "argon2_parameters": verify_after["parameters"],
    }
    return phases


def token_format_cost(keys_dir: str, rounds: int = 200) -> dict[str, float]:
    """CPU to mint one access token: opaque (random + SHA-256) against an RS256 JWT."""
    from joserfc import jwt

    from idp.oidc.keys import import_key

    stored = json.loads(next(Path(keys_dir).glob("*.json")).read_text())
    key = import_key(stored["jwk"])
    header = {"alg": "RS256", "kid": stored["kid"], "typ": "at+jwt"}

    def opaque() -> str:
        return hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()

    def signed() -> str:
        now = int(time.time())
        claims = {
            "iss": f"http://{HOST}",
            "sub": "00000000-0000-4000-8000-000000000001",
            "aud": "bench-portal",
            "client_id": "bench-portal",
            "scope": SCOPE,
            "iat": now,
            "exp": now + 600,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(header, claims, key, ["RS256"])
        return hashlib.sha256(token.encode()).hexdigest()

    result = {}
    for name, make in (("opaque_us", opaque), ("jwt_rs256_us", signed)):
        times = []
        for _ in range(rounds):
            started = time.thread_time()
            make()
            times.append(time.thread_time() - started)
        result[name] = statistics.median(times) * 1e6
    return result


def speed_probe(rounds: int = 5) -> dict[str, float]:
    """The CPU time of a fixed pure-Python loop (median of `rounds`): how fast this machine
    runs interpreted code right now, so that figures of two runs or two machines can be
    compared. On a shared VM it moves by ±30 % within minutes (see bench/README.md)."""
    times = []
    for _ in range(rounds):
        started = time.thread_time()
        table: dict[int, int] = {}
        for i in range(300_000):
            table[i & 1023] = table.get(i & 1023, 0) + i % 7
        times.append(time.thread_time() - started)
    return {"python_loop_ms": statistics.median(times) * 1000}


def argon2_verify_cpu(password_hash: str, rounds: int = 50) -> dict[str, Any]:
    """CPU (thread) and wall time of one argon2id verify at the stored hash's cost."""
    from argon2 import PasswordHasher
    from argon2 import extract_parameters

    params = extract_parameters(password_hash)
    hasher = PasswordHasher()
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.thread_time(), time.perf_counter()
        hasher.verify(password_hash, PASSWORD)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {
        "parameters": f"m={params.memory_cost} KiB t={params.time_cost} p={params.parallelism}",
        "cpu_ms": statistics.median(cpu) * 1000,
        "wall_ms": statistics.median(wall) * 1000,
    }


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _ok(condition: bool) -> str:
    return "ok" if condition else "MISSED"


def _wrk_check(phase: dict[str, Any]) -> str:
    """What the wrk scripts counted, and the refresh rotation check; empty for Python."""
    checks = phase.get("checks") or {}
    if "requests" not in checks:  # a phase driven by Python threads
        return ""
    text = (
        f"wrk: {checks['requests']} responses, {checks['ok']} ok, "
        f"{checks['non2xx']} non-2xx; wrk CPU {checks['wrk_cpu_s']:.2f} s"
    )
    if "rotation_ok" in checks:
        text += (
            f"; rotation: {checks['server_tokens_issued']} tokens issued by the server "
            f"for {checks['ok']} grants answered (≤ {checks['tokens_given']} in flight at "
            f"the stop), {checks['server_tokens_revoked']} revoked, "
            f"{checks['empty_queue']} empty queue → {_ok(checks['rotation_ok'])}"
        )
    return text


def report(result: dict[str, Any]) -> None:
    t = TARGETS
    base = result["baseline"]
    print()
    print(f"== idp bench: {result['db']} ==")
    print(
        f"gunicorn -w {result['workers']} ({result.get('worker_class', 'sync')}), "
        f"{result['concurrency']} concurrent clients, "
        f"{result['duration']:g} s per phase, access tokens "
        f"{result['access_token_format']}, {result['cpus']} CPUs, "
        f"load average before {result['loadavg_before']}"
    )
    speed = result.get("speed")
    if speed:
        print(
            f"machine speed: a fixed pure-Python loop took {speed['python_loop_ms_before']:.0f} ms "
            f"before and {speed['python_loop_ms_after']:.0f} ms after the phases "
            f"(argon2id verify: see below); compare runs only at similar speeds"
        )
    wrk = result.get("wrk")
    generator = result.get("load_generator", PYTHON_GENERATOR)
    grants = (
        f"wrk {wrk['version']}, {wrk['threads']} threads, {wrk['connections']} connections"
        if wrk
        else f"python requests, {result['concurrency']} threads"
    )
    print(
        f"load generator: grants {grants}; logins python requests, {result['concurrency']} threads"
    )
    header = (
        f"{'measured by ' + generator:28}{'ops/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
        f"{'CPU ms/op':>10}{'ceiling/s':>10}  target"
    )
    print(header)
    print("-" * (len(header) + 40))
    rows = (
        ("refresh_token grant", base["refresh"], t["refresh_per_s"]),
        ("client_credentials grant", base["client_credentials"], t["client_credentials_per_s"]),
        ("password login (5 requests)", base["login"], None),
    )
    cpus = result["cpus"] or 1
    for label, phase, per_s in rows:
        cpu_ms = phase["server_cpu_s"] / max(phase["ops"], 1) * 1000
        ceiling = cpus / (cpu_ms / 1000) if cpu_ms else math.inf
        if per_s is not None:
            target = (
                f"≥ {per_s}/s {_ok(phase['per_s'] >= per_s)}, "
                f"p99 ≤ {t['p99_ms']} ms {_ok(phase['p99_ms'] <= t['p99_ms'])}"
            )
        else:
            target = "argon2-bound: see CPU below"
        print(
            f"{label:28}{phase['per_s']:8.1f}{phase['p50_ms']:8.1f}{phase['p99_ms']:8.1f}"
            f"{phase['errors']:7d}{cpu_ms:10.2f}{ceiling:10.0f}  {target}"
        )
        if phase.get("first_error"):
            print(f"{'':28}first error: {phase['first_error']}")
        check = _wrk_check(phase)
        if check:
            print(f"{'':28}{check}")
    print(
        f"{'':28}ceiling = {cpus} CPUs / server CPU per op: the most this stack could do "
        "with the whole machine (database CPU not included)"
    )
    login = base["login"]
    if login["steps_ms"]:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in login["steps_ms"].items())
        print(f"{'':28}login, mean ms per step: {parts}")
    cpu = result["cpu"]
    print()
    print(
        f"server CPU per login        {cpu['login_cpu_ms']:.1f} ms  vs argon2id verify alone "
        f"{cpu['argon2_cpu_ms']:.1f} ms ({cpu['argon2_parameters']}; the mean of the medians "
        f"of 50 verifies just before, {cpu.get('argon2_cpu_ms_before', math.nan):.1f} ms, "
        f"and just after the login phase, {cpu.get('argon2_cpu_ms_after', math.nan):.1f} ms)"
    )
    print(
        f"{'':28}→ a login costs {cpu['login_cpu_pct']:.0f} % of one verify "
        f"(target ≤ {t['login_cpu_pct']} %) {_ok(cpu['login_cpu_pct'] <= t['login_cpu_pct'])}"
    )
    print(
        f"{'load generator (' + generator + ')':26} "
        f"{cpu['client_cpu_share']:.0f} % of the machine's CPU "
        "during the grant phases (same machine)"
    )
    fmt = result.get("token_format_cost")
    if fmt:
        print(
            f"issuing one access token   opaque (random + SHA-256) {fmt['opaque_us']:.1f} µs, "
            f"RS256 JWT (sign + SHA-256) {fmt['jwt_rs256_us']:.0f} µs (in-process, median)"
        )
    mem, idle = result["memory"], result["memory_idle"]
    # The whole server's resident memory counts a page shared by the master and its workers
    # once: that is PSS summed over the processes. Summed RSS counts shared pages once per
    # process (with --preload, the whole application is shared), so it is shown but not judged.
    print(
        f"server memory at the end    PSS {mem['pss_mb']:.0f} MB over {mem['processes']} "
        f"processes (summed RSS {mem['rss_mb']:.0f} MB) target ≤ {t['rss_mb']} MB "
        f"{_ok(mem['pss_mb'] <= t['rss_mb'])}"
    )
    print(
        f"{'':28}idle before any request: RSS {idle['rss_mb']:.0f} MB, PSS {idle['pss_mb']:.0f} MB"
    )
    scale = result.get("scale")
    if scale:
        print()
        print(
            f"--scale: {scale['accounts']:,} accounts, {scale['tokens']:,} tokens "
            f"(seeded in {scale['seed_seconds']:.0f} s); latency ratio against "
            f"{BASELINE_ACCOUNTS:,} accounts / {BASELINE_TOKENS:,} tokens "
            f"(target ≤ {t['scale_ratio']}×)"
        )
        print(
            f"{'':28}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p50 ×':>8}{'p99 ×':>8}{'CPU/op ×':>10}"
        )
        for key, label in (
            ("refresh", "refresh_token grant"),
            ("client_credentials", "client_credentials grant"),
            ("login", "password login"),
        ):
            phase, ratio = scale["phases"][key], scale["ratios"][key]
            worst = max(ratio["p50"], ratio["p99"])
            print(
                f"{label:28}{phase['per_s']:9.1f}{phase['p50_ms']:9.1f}{phase['p99_ms']:9.1f}"
                f"{ratio['p50']:8.2f}{ratio['p99']:8.2f}{ratio['cpu']:10.2f}"
                f"  {_ok(worst <= t['scale_ratio'])}"
            )
            if phase["errors"]:
                print(f"{'':28}{phase['errors']} errors; first: {phase['first_error']}")
            check = _wrk_check(phase)
            if check and not phase["checks"].get("rotation_ok", True):
                print(f"{'':28}{check}")


def summary_figures(result: dict[str, Any]) -> dict[str, float]:
    """The judged figures of one run, flat."""
    base, cpu = result["baseline"], result["cpu"]
    return {
        "refresh/s": base["refresh"]["per_s"],
        "refresh p99 ms": base["refresh"]["p99_ms"],
        "refresh CPU ms": cpu["refresh_cpu_ms"],
        "client_credentials/s": base["client_credentials"]["per_s"],
        "client_credentials p99 ms": base["client_credentials"]["p99_ms"],
        "client_credentials CPU ms": cpu["client_credentials_cpu_ms"],
        "login p99 ms": base["login"]["p99_ms"],
        "login CPU % of a verify": cpu["login_cpu_pct"],
        "argon2id verify ms": cpu["argon2_cpu_ms"],
        "python loop ms": result.get("speed", {}).get("python_loop_ms_before", math.nan),
        "memory PSS MB": result["memory"]["pss_mb"],
    }


def report_summary(kind: str, runs: list[dict[str, Any]]) -> None:
    """Median and range of each judged figure over repeated runs (a shared machine's speed
    moves between runs: one run alone says little)."""
    figures = [summary_figures(run) for run in runs]
    print()
    print(f"== {kind}: {len(runs)} runs ==")
    print(f"{'':28}{'median':>10}{'min':>10}{'max':>10}")
    for name in figures[0]:
        values = [f[name] for f in figures]
        print(f"{name:28}{statistics.median(values):10.1f}{min(values):10.1f}{max(values):10.1f}")


def bench_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"idp-bench-{kind}-"))
    server: Server | None = None
    try:
        url = prepare_database(kind, workdir)
        setup = create_fixtures(url, workdir)
        # The 1,000-account baseline (the bench account is one of them).
        bulk_seed(setup, range(1, BASELINE_ACCOUNTS), range(0, BASELINE_TOKENS))
        server = Server(setup, args.workers, workdir, args.access_token_format, args.threads)
        wrk = Wrk.find(args.concurrency) if args.load_generator != "python" else None
        speed_before = speed_probe()
        server.start()
        idle_memory = server.memory_mb()
        result: dict[str, Any] = {
            "db": kind,
            "workers": args.workers,
            "worker_class": f"gthread, {args.threads} threads" if args.threads else "sync",
            "concurrency": args.concurrency,
            "duration": args.duration,
            "cpus": os.cpu_count(),
            "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(),
            "access_token_format": args.access_token_format or "default",
            # What measured the grant phases (logins: always Python threads).
            "load_generator": "wrk" if wrk else PYTHON_GENERATOR,
            "wrk": asdict(wrk) if wrk else None,
        }
        baseline = measure(server, setup, args.concurrency, args.duration, wrk, workdir)
        around = baseline["login"].checks
        argon = {
            "cpu_ms": (around["argon2_cpu_ms_before"] + around["argon2_cpu_ms_after"]) / 2,
            "parameters": around["argon2_parameters"],
        }
        speed_after = speed_probe()
        result["speed"] = {
            "python_loop_ms_before": speed_before["python_loop_ms"],
            "python_loop_ms_after": speed_after["python_loop_ms"],
        }
        result["token_format_cost"] = token_format_cost(setup.keys_dir)
        login = baseline["login"]
        grants = (baseline["refresh"], baseline["client_credentials"])
        grant_seconds = sum(p.seconds for p in grants) or 1
        result["baseline"] = {k: asdict(v) for k, v in baseline.items()}
        result["cpu"] = {
            "login_cpu_ms": login.server_cpu_s / max(login.ops, 1) * 1000,
            "argon2_cpu_ms": argon["cpu_ms"],
            "argon2_cpu_ms_before": around["argon2_cpu_ms_before"],
            "argon2_cpu_ms_after": around["argon2_cpu_ms_after"],
            "argon2_parameters": argon["parameters"],
            "login_cpu_pct": login.server_cpu_s
            / max(login.ops, 1)
            / (argon["cpu_ms"] / 1000)
            * 100,
            "refresh_cpu_ms": grants[0].server_cpu_s / max(grants[0].ops, 1) * 1000,
            "client_credentials_cpu_ms": grants[1].server_cpu_s / max(grants[1].ops, 1) * 1000,
            "client_cpu_share": sum(p.client_cpu_s for p in grants)
            / (grant_seconds * (os.cpu_count() or 1))
            * 100,
        }
        result["memory_idle"] = idle_memory
        result["memory_baseline"] = server.memory_mb()
        if args.scale:
            seconds = bulk_seed(
                setup,
                range(BASELINE_ACCOUNTS, args.scale_accounts),
                range(BASELINE_TOKENS, args.scale_tokens),
            )
            scaled = measure(server, setup, args.concurrency, args.duration, wrk, workdir)
            result["scale"] = {
                "accounts": args.scale_accounts,
                "tokens": args.scale_tokens,
                "seed_seconds": seconds,
                "phases": {k: asdict(v) for k, v in scaled.items()},
                "ratios": {
                    k: {
                        "p50": scaled[k].p50_ms / baseline[k].p50_ms,
                        "p99": scaled[k].p99_ms / baseline[k].p99_ms,
                        "cpu": _cpu_per_op(scaled[k]) / _cpu_per_op(baseline[k]),
                    }
                    for k in scaled
                },
            }
        result["memory"] = server.memory_mb()
        result["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        return result
    except BaseException:
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="client threads (wrk: connections)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=0, help="gthread worker threads (0: sync workers)"
    )
    parser.add_argument("--scale", action="store_true", help="also measure with 1M accounts")
    parser.add_argument(
        "--scale-accounts", type=int, default=SCALE_ACCOUNTS, help=argparse.SUPPRESS
    )
    parser.add_argument("--scale-tokens", type=int, default=SCALE_TOKENS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--access-token-format",
        choices=["opaque", "jwt"],
        help="IDP_ACCESS_TOKEN_FORMAT of the server (default: idp's own default)",
    )
    parser.add_argument(
        "--load-generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="grant phases: wrk (bench/wrk/*.lua), Python threads, or auto: wrk if on PATH",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each database N times (fresh server each time) and summarise the medians",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 64 or not 0 < args.duration <= 600:
        parser.error("concurrency must be 1..64 and duration 0..600 s")
    if not 1 <= args.repeat <= 20:
        parser.error("repeat must be 1..20")
    if not 0 <= args.threads <= 16:
        parser.error("threads must be 0..16")
    if args.scale_accounts <= BASELINE_ACCOUNTS or args.scale_tokens <= BASELINE_TOKENS:
        parser.error("the scale sizes must exceed the baseline")
    if args.load_generator != "python" and shutil.which("wrk") is None:
        if args.load_generator == "wrk":
            parser.error("wrk is not on PATH (apt-get install wrk)")
        print(
            "wrk not found (apt-get install wrk): the grant phases use Python threads",
            file=sys.stderr,
        )
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        runs = []
        for _ in range(args.repeat):
            result = bench_one(kind, args)
            report(result)
            runs.append(result)
        if len(runs) > 1:
            report_summary(kind, runs)
        results.extend(runs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
