"""Core writes run on the session's DBAPI connection, compiled once per dialect.

A token grant writes two or three rows, and what `Connection.execute` does around each
statement (the compiled-cache lookup, the execution context, the result set-up) costs about
as much as the write itself: a client_credentials grant's two INSERTs and commit took
0.37 ms on SQLite and 0.65 ms on PostgreSQL that way, and 0.31 and 0.49 ms this way
(`bench/cpu.py --db-part`, bench/README.md). The statements are still SQLAlchemy Core, compiled by
SQLAlchemy for the dialect with their types' bind processors; they run in the session's
transaction and are committed or rolled back with it.

Only for statements whose result is a row count (INSERT without RETURNING, UPDATE): reads
go through the session as usual.
"""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.dml import UpdateBase

from idp.extensions import db


class _Compiled(NamedTuple):
    sql: str
    processors: dict[str, Any]
    order: tuple[str, ...] | None  # positional paramstyles (SQLite's qmark): the bind order


class Direct:
    """One INSERT or UPDATE, run without SQLAlchemy's execution context.

    The parameters' keys are the statement's bind names (for an INSERT or the SET of an
    UPDATE, the column keys), as for `Connection.execute`; each set of keys is compiled
    once per dialect.
    """

    def __init__(self, statement: UpdateBase) -> None:
        # inline(): nothing is read back (SQLAlchemy would add RETURNING id on PostgreSQL).
        self.statement = statement.inline() if isinstance(statement, Insert) else statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
            # A column default would be computed by SQLAlchemy's execution context, which
            # this skips: every value must be given.
            missing = set(compiled.binds) - set(keys)
            if missing:
                raise ValueError(f"no value for {', '.join(sorted(missing))}")
            processors = {}
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = _Compiled(compiled.string, processors, order)
            self._compiled[(dialect.name, keys)] = found
        return found

    def execute(self, params: dict[str, Any]) -> int:
        """Run in the session's transaction (begun if need be); the rows it wrote."""
        connection = db.session.connection()
        compiled = self._compile(connection.dialect, tuple(params))
        processors = compiled.processors
        values = {
            key: processors[key](value) if key in processors else value
            for key, value in params.items()
        }
        dialect = connection.dialect
        dbapi_connection = connection.connection.dbapi_connection
        cursor = None
        try:
            cursor = dbapi_connection.cursor()
            if compiled.order is None:
                cursor.execute(compiled.sql, values)
            else:
                cursor.execute(compiled.sql, tuple(values[key] for key in compiled.order))
            return cursor.rowcount
        except dialect.loaded_dbapi.Error as error:
            # As Connection.execute would: SQLAlchemy's exception (IntegrityError…), and a
            # connection the server dropped is not given back to the pool.
            lost = dialect.is_disconnect(error, dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                compiled.sql,
                values,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            if cursor is not None:
                cursor.close()
