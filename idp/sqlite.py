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
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from typing import Any

# The first keyword of the statements that write (SQLAlchemy sends them one at a time).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterLockedConnection(sqlite3.Connection):
    """A sqlite3 connection that holds the writer file lock from its first write to the end
    of the transaction."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        self._lock_fd: int | None = None
        self._locked = False
        if path and path != ":memory:" and not path.startswith("file:"):
            self._lock_fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600)

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


class WriterLockedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if sql.lstrip()[:7].upper().startswith(_WRITES):
            self.connection.lock_for_write()  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        if sql.lstrip()[:7].upper().startswith(_WRITES):
            self.connection.lock_for_write()  # type: ignore[attr-defined]
        return super().executemany(sql, seq_of_parameters)
