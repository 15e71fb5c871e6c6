"""Database connections checked before use only after they have been idle a while.

SQLAlchemy's `pool_pre_ping` sends `SELECT 1` at every checkout, so that a connection the
database closed (restart, failover, idle timeout) is replaced before a request uses it. On
PostgreSQL that is one more round trip per request: a fifth of a client_credentials grant's
round trips. A connection checked in less than DB_PING_AFTER_IDLE_SECONDS ago was working
then; it is used as is. Older ones are pinged, and one that fails the ping is replaced
(the pool retries the checkout with a new connection).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc
from sqlalchemy.engine import Engine

_LAST_USED = "idp_last_used"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out a fresh one.
            raise exc.DisconnectionError() from error
