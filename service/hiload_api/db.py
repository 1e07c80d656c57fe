"""The asyncpg pool and the schema migrations (the items' statements are in hiload_api.crud)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import TypeAlias, TypedDict

import asyncpg
from asyncpg.connection import LoggedQuery
from asyncpg.pool import PoolConnectionProxy

from hiload_api.config import Settings

logger = logging.getLogger(__name__)

# asyncpg's classes are generic only in its stubs, hence the quoted aliases.
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
QueryObserver = Callable[[str, float], None]

# In-flight queries get this long to finish at shutdown before their connections are cut.
POOL_CLOSE_TIMEOUT = 10.0

# Errors that mean "the database cannot answer right now", as opposed to a bug: the API
# turns them into 503 + Retry-After, and the pool replaces broken connections by itself.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect, acquire or query timeout
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.OperatorInterventionError,  # class 57: shutdown, cannot connect now, query cancelled
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.ConnectionDoesNotExistError,  # closed under an in-flight query
)

SQL_PING = "SELECT 1"

# Any 64-bit key will do, as long as every host uses the same one: "hiload" in ASCII.
MIGRATION_LOCK_KEY = 0x6869_6C6F_6164
SQL_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
SQL_APPLIED_VERSIONS = "SELECT version FROM schema_migrations"
SQL_RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass
class Database:
    """The pool, and what asyncpg does not count itself: callers waiting for a connection."""

    pool: Pool
    default_wait: float
    waiting: int = 0

    @asynccontextmanager
    async def connection(self, wait: float | None = None) -> AsyncIterator[Connection]:
        """A pooled connection, waiting at most ``wait`` seconds (default: statement timeout)."""
        wait = wait or self.default_wait
        self.waiting += 1
        try:
            # The same bound as acquire(timeout=...), which would wrap every acquire in a
            # task of its own: asyncio.timeout only arms a timer on the current one.
            async with asyncio.timeout(wait):
                conn = await self.pool.acquire()
        finally:
            self.waiting -= 1
        try:
            yield conn
        finally:
            await self.pool.release(conn, timeout=wait)

    async def ping(self, wait: float) -> None:
        """Return once PostgreSQL answers through the pool; raise if not within ``wait`` s."""
        async with self.connection(wait=wait) as conn:
            await conn.fetchval(SQL_PING, timeout=wait)


class ConnectOptions(TypedDict):
    timeout: float
    command_timeout: float | None
    statement_cache_size: int
    server_settings: dict[str, str]


def _connect_options(settings: Settings, statement_timeout: float | None) -> ConnectOptions:
    return {
        "timeout": settings.db_connect_timeout,
        # Client-side limit on every query (the per-query timeout) ...
        "command_timeout": statement_timeout,
        "statement_cache_size": settings.db_statement_cache_size,
        "server_settings": {
            # ... and the same limit enforced by the server, so an abandoned query stops there too.
            "statement_timeout": str(int((statement_timeout or 0) * 1000)),
            "application_name": "hiload-api",
            # JSON rendered by PostgreSQL carries UTC offsets whatever the server's default.
            "TimeZone": "UTC",
        },
    }


def _observe_query(
    observe: QueryObserver, query_names: Mapping[str, str], record: LoggedQuery
) -> None:
    observe(query_names.get(record.query, "other"), record.elapsed)


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Skip asyncpg's default reset query on release, a second round trip per request.

    Safe because no route changes session state (SET, LISTEN, advisory locks, WITH HOLD
    cursors); asyncpg still rolls back any transaction left open before calling this.
    """


async def _init_connection(
    observe: QueryObserver, query_names: Mapping[str, str], conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    conn.add_query_logger(partial(_observe_query, observe, query_names))


@asynccontextmanager
async def open_database(
    settings: Settings,
    observe_query: QueryObserver,
    query_names: Mapping[str, str],
    url: str | None = None,
) -> AsyncIterator[Database]:
    """A pool to ``url`` (default: the settings' database_url), open while the block runs; if
    PostgreSQL is down, it starts empty and connects once PostgreSQL answers. Each query's
    duration goes to ``observe_query``, under its name in ``query_names`` ("other" if it has
    none)."""

    def open_pool(min_size: int) -> Pool:
        return asyncpg.create_pool(
            url or settings.database_url,
            min_size=min_size,
            max_size=settings.db_pool_max,
            init=partial(_init_connection, observe_query, query_names),
            reset=_keep_session,
            **_connect_options(settings, settings.db_statement_timeout),
        )

    try:
        pool = await open_pool(settings.db_pool_min)
    except DATABASE_UNAVAILABLE as exc:
        # Refusing to start would make systemd restart-loop every app host during a database
        # failover; serving 503 from /readyz lets the load balancer decide instead.
        logger.warning("PostgreSQL unreachable at start-up (%s); /readyz is 503 until it is", exc)
        pool = await open_pool(0)
    try:
        yield Database(pool=pool, default_wait=settings.db_statement_timeout)
    finally:
        try:
            await asyncio.wait_for(pool.close(), POOL_CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("hiload_api.migrations").iterdir():
        match = MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied.

    A session-level advisory lock serialises concurrent runs: the second host waits, then
    finds nothing left to do.
    """
    pending = _migrations()
    # No statement timeout: waiting for another host's migrations, or building an index,
    # may take longer than any API query may.
    conn = await asyncpg.connect(
        settings.database_url, **_connect_options(settings, statement_timeout=None)
    )
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(SQL_CREATE_MIGRATIONS_TABLE)
            applied = {row["version"] for row in await conn.fetch(SQL_APPLIED_VERSIONS)}
            done = []
            for version, name, sql in pending:
                if version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(SQL_RECORD_MIGRATION, version, name)
                done.append(f"{version:04d}_{name}")
                logger.info("Applied migration %04d_%s", version, name)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()
