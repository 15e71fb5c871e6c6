"""SQLite connections for several server processes writing to one database file.

SQLite lets one connection write at a time. A connection that finds the write lock taken
calls SQLite's busy handler, which polls: it sleeps 1, 2, 5, 10… ms between attempts. Under
load, with two gunicorn workers, about one grant in five slept at least a millisecond that
way, longer than the whole grant takes.

Here a connection about to write first takes an exclusive `flock` on a file beside the
database (`<database>-writer`): the kernel queues the waiting writers and wakes the next one
as soon as the lock is released, at the commit or rollback. Readers never take it (WAL mode
lets them read while one connection writes). A process that dies releases its lock with its
file descriptors; a hung gunicorn worker is killed by the arbiter after its timeout.

WAL checkpoints (copying the log back into the database file, then an fsync) are not left
to SQLite's automatic checkpoint, which runs inside the COMMIT that crosses 1,000 pages, so
while that connection still holds the writer lock: with millions of rows the pages are
scattered, the copy and its fsync took up to a second, and every writer queued behind it
(refresh grants at 5 M tokens: p99 ×55). Each process instead runs a passive checkpoint
from a background thread every CHECKPOINT_SECONDS, holding no lock that writers wait for.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

CHECKPOINT_SECONDS = 1.0

# The first keyword of the statements that write (SQLAlchemy sends them one at a time).
# Schema changes too: a migration that took SQLite's write lock with a CREATE, then waited
# for the file lock held by a writer waiting for SQLite's lock, would stall both.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class WriterLockedConnection(sqlite3.Connection):
    """idp's SQLite connection: its settings, and the writer file lock held from its first
    write to the end of the transaction.

    `mmap_mb` (passed through `sqlite3.connect`): read the database through a memory map
    of up to that many MiB. Another connection's commit empties this one's page cache, so
    with two workers writing in turn each transaction reads its pages again: through the
    map that is a memory access to the kernel's page cache instead of a pread() and a copy
    (at 5 M tokens, a refresh grant's CPU went from 1.35× to 1.06× the small database's).
    """

    def __init__(self, database: Any, *args: Any, mmap_mb: int = 0, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        self._lock_fd: int | None = None
        self._locked = False
        # SQLite enforces foreign keys (ON DELETE CASCADE) only when asked, per connection.
        super().execute("PRAGMA foreign_keys=ON")
        super().execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL stays consistent and durable across an application crash, and
        # skips the fsync of every commit (a power loss may undo the last transactions).
        super().execute("PRAGMA synchronous=NORMAL")
        super().execute(f"PRAGMA mmap_size={int(mmap_mb) * 1024 * 1024}")
        if path and path != ":memory:" and not path.startswith("file:"):
            self._lock_fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
            super().execute("PRAGMA wal_autocheckpoint=0")
            Checkpointer.ensure(path)

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or WriterLockedCursor)

    # sqlite3's own shortcuts make a plain cursor: route them through ours.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def lock_for_write(self) -> None:
        if self._lock_fd is not None and not self._locked:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._locked = True

    def _unlock(self) -> None:
        if self._locked:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # type: ignore[arg-type]

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._unlock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._unlock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._unlock()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def _writes(sql: str) -> bool:
    return sql[:16].lstrip()[:7].upper().startswith(_WRITES)


class WriterLockedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if _writes(sql):
            self.connection.lock_for_write()  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        if _writes(sql):
            self.connection.lock_for_write()  # type: ignore[attr-defined]
        return super().executemany(sql, seq_of_parameters)


class Checkpointer:
    """One daemon thread per process and database file, checkpointing the WAL passively.

    Started by the first connection a process opens (gunicorn workers are forked: the
    registry is keyed by process id, so each worker starts its own)."""

    _started: dict[tuple[int, str], threading.Thread] = {}
    _guard = threading.Lock()

    @classmethod
    def ensure(cls, path: str) -> None:
        key = (os.getpid(), path)
        if key in cls._started:
            return
        with cls._guard:
            if key not in cls._started:
                thread = threading.Thread(
                    target=cls._run, args=(path,), name="sqlite-checkpoint", daemon=True
                )
                cls._started[key] = thread
                thread.start()

    @staticmethod
    def _run(path: str) -> None:
        stop = threading.Event()
        conn: sqlite3.Connection | None = None
        while not stop.wait(CHECKPOINT_SECONDS):
            if not os.path.exists(path):
                break  # the database was removed (a test's temporary file)
            try:
                if conn is None:
                    conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
                # PASSIVE: copies what no reader still needs, never waits for anyone.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
