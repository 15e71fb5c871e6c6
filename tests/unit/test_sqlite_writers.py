"""SQLite writers queue on a file lock instead of SQLite's sleeping busy handler.

These tests use their own database file, whatever database the suite runs on.
"""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from idp.sqlite import WriterLockedConnection


@pytest.fixture
def path(tmp_path):
    database = tmp_path / "w.sqlite3"
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.commit()
    conn.close()  # the last connection closed: the table is in the database file
    return database


def connect(path, timeout=0.0):
    # timeout=0: without the file lock, a second writer fails at once ("database is locked").
    return sqlite3.connect(
        path, timeout=timeout, factory=WriterLockedConnection, check_same_thread=False
    )


def test_the_app_engine_still_gets_its_pragmas(path):
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"timeout": 15, "factory": WriterLockedConnection}
    )
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()


def test_a_second_writer_waits_for_the_first_commit_instead_of_failing(path):
    first, second = connect(path), connect(path)
    first.execute("INSERT INTO t VALUES (1)")  # holds the write lock until its commit
    done = threading.Event()
    errors = []

    def write():
        try:
            second.execute("INSERT INTO t VALUES (2)")
            second.commit()
        except sqlite3.Error as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not done.wait(0.2), "the second writer did not wait"
    first.commit()
    assert done.wait(5)
    thread.join()
    assert errors == []
    assert [row[0] for row in first.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    first.close()
    second.close()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_the_lock_is_released_by_a_rollback_or_a_close(path, end):
    first, second = connect(path), connect(path)
    first.execute("INSERT INTO t VALUES (1)")
    getattr(first, end)()
    started = time.monotonic()
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()
    assert time.monotonic() - started < 1
    second.close()
    if end == "rollback":
        first.close()


def test_readers_do_not_wait_for_a_writer(path):
    writer, reader = connect(path), connect(path)
    writer.execute("INSERT INTO t VALUES (1)")
    started = time.monotonic()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert time.monotonic() - started < 0.5
    writer.commit()
    writer.close()
    reader.close()


def test_in_memory_databases_work_without_a_lock_file():
    conn = sqlite3.connect(":memory:", factory=WriterLockedConnection)
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert conn.execute("SELECT n FROM t").fetchall() == [(1,)]
    conn.close()


def test_commits_never_checkpoint_inside_the_writer_lock(path):
    conn = connect(path)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    conn.close()


def test_a_background_thread_copies_the_log_into_the_database_file(path, monkeypatch):
    from idp import sqlite as idp_sqlite

    monkeypatch.setattr(idp_sqlite, "CHECKPOINT_SECONDS", 0.05)
    conn = connect(path)
    conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(200)])
    conn.commit()
    # `immutable` reads the database file alone, ignoring the WAL: the rows appear there
    # only once a checkpoint has copied them, while this connection stays open.
    deadline = time.monotonic() + 10
    seen = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as raw:
            seen = raw.execute("SELECT count(*) FROM t").fetchone()[0]
        if seen == 200:
            break
        time.sleep(0.05)
    conn.close()
    assert seen == 200


def test_the_app_reads_sqlite_through_a_memory_map_of_the_configured_size(
    tmp_path, tmp_path_factory
):
    from idp import create_app
    from idp.extensions import db
    from tests.conftest import make_config

    app = create_app(
        make_config(
            tmp_path_factory,
            DATABASE_URL=f"sqlite:///{tmp_path / 'mapped.sqlite3'}",
            SQLITE_MMAP_MB=64,
        )
    )
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA mmap_size")).scalar() == 64 * 1024 * 1024
        db.engine.dispose()


def test_a_schema_change_takes_the_writer_lock_too(path):
    migration, writer = connect(path, timeout=5), connect(path, timeout=5)
    migration.execute("BEGIN")
    migration.execute("CREATE TABLE u (n INTEGER)")  # SQLite's write lock, and the file lock
    wrote, migrated = threading.Event(), threading.Event()

    def write():
        writer.execute("INSERT INTO t VALUES (1)")
        writer.commit()
        wrote.set()

    def finish_migration():
        migration.execute("INSERT INTO u VALUES (1)")
        migration.commit()
        migrated.set()

    threads = [threading.Thread(target=write, daemon=True)]
    threads[0].start()
    assert not wrote.wait(0.2), "the writer did not queue behind the migration"
    threads.append(threading.Thread(target=finish_migration, daemon=True))
    threads[1].start()
    # Had the writer taken the file lock first, each would wait for the other.
    assert migrated.wait(5), "the migration stalled behind the writer"
    assert wrote.wait(5)
    for thread in threads:
        thread.join(5)
    migration.close()
    writer.close()
