"""The process's one connection pool, and the SQL the API runs through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from notes.config import Settings

# Seconds to open a connection, to run one statement, and to wait for a pooled connection.
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 10.0
POOL_TIMEOUT = 5.0
# SQLSTATE classes of a server that cannot serve this app now: connection exceptions, operator
# intervention (shutting down, starting up, recovering), insufficient resources (too many
# connections), and a login or database it refuses (not created yet, password being rotated).
# No request can fix these; a later one may work.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "53", "28", "3D")
# What PostgreSQL shows in pg_stat_activity for this app's sessions.
APPLICATION_NAME = "notes"


class DatabaseUnavailableError(Exception):
    """PostgreSQL cannot be reached or is not serving: the request is worth retrying later."""


class Note(TypedDict):
    id: int
    title: str
    body: str
    pinned: bool
    created_at: str


def open_engine(settings: Settings) -> AsyncEngine:
    """The pool: at most db_pool_size connections, opened on first use, checked before reuse."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        # No overflow, so the operator's connection budget is exactly the pool size.
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT,
        # A restarted or failed-over database leaves dead connections in the pool; a ping
        # replaces them before a request trips over one.
        pool_pre_ping=True,
        connect_args={
            "timeout": CONNECT_TIMEOUT,
            "command_timeout": STATEMENT_TIMEOUT,
            "server_settings": {"application_name": APPLICATION_NAME},
        },
    )


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, OSError | TimeoutError | PoolTimeoutError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return (
            exc.connection_invalidated
            or isinstance(exc, OperationalError)
            or sqlstate.startswith(UNAVAILABLE_SQLSTATE_CLASSES)
        )
    return False


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction; raises DatabaseUnavailableError for a lost database."""
    try:
        async with engine.begin() as connection:
            yield connection
    except Exception as exc:
        if _unavailable(exc):
            raise DatabaseUnavailableError from exc
        raise


async def ping(engine: AsyncEngine) -> None:
    """Run SELECT 1 through the pool."""
    async with transaction(engine) as connection:
        await connection.execute(text("SELECT 1"))


def _note(row: Any) -> Note:
    created_at: datetime = row.created_at
    return Note(
        id=row.id,
        title=row.title,
        body=row.body,
        pinned=row.pinned,
        created_at=created_at.isoformat(),
    )


async def list_notes(engine: AsyncEngine, limit: int) -> list[Note]:
    """The newest notes, pinned ones first."""
    async with transaction(engine) as connection:
        result = await connection.execute(
            text(
                "SELECT id, title, body, pinned, created_at FROM notes"
                " ORDER BY pinned DESC, id DESC LIMIT :limit"
            ),
            {"limit": limit},
        )
        return [_note(row) for row in result]


async def get_note(engine: AsyncEngine, note_id: int) -> Note | None:
    async with transaction(engine) as connection:
        result = await connection.execute(
            text("SELECT id, title, body, pinned, created_at FROM notes WHERE id = :id"),
            {"id": note_id},
        )
        row = result.one_or_none()
        return None if row is None else _note(row)


async def add_note(engine: AsyncEngine, title: str, body: str, pinned: bool) -> Note:
    async with transaction(engine) as connection:
        result = await connection.execute(
            text(
                "INSERT INTO notes (title, body, pinned) VALUES (:title, :body, :pinned)"
                " RETURNING id, title, body, pinned, created_at"
            ),
            {"title": title, "body": body, "pinned": pinned},
        )
        return _note(result.one())
