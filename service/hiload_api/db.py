"""The asyncpg pool, the schema migrations and every SQL statement the API runs."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from typing import TypeAlias, TypedDict

import asyncpg
from asyncpg.connection import LoggedQuery
from asyncpg.pool import PoolConnectionProxy

from hiload_api.batching import Coalescer
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

# Each item is rendered to JSON by PostgreSQL itself: the hot routes hand these bytes to
# the client (and to Redis) without building Python objects at all. row_to_json over a
# row of exactly these columns (aliased "item") costs PostgreSQL about two thirds of what
# json_build_object does, and its output is compact.
ITEM_COLUMNS = "id, name, price, tags, created_at"
ITEM_JSON = "row_to_json(item)::text"

# Single reads arrive coalesced (see batching.py): one statement serves every id asked for
# in the same turn of the event loop.
SQL_GET_ITEMS = (
    f"SELECT id, {ITEM_JSON} FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id = ANY($1::bigint[]))"
    " AS item"
)
SQL_INSERT_ITEM = (
    f"WITH item AS (INSERT INTO items (name, price, tags) VALUES ($1, $2, $3)"
    f" RETURNING {ITEM_COLUMNS}) SELECT {ITEM_JSON} FROM item"
)
# NULL never is a legal new value, so COALESCE keeps every field the client left out.
SQL_UPDATE_ITEM = (
    "WITH item AS (UPDATE items SET name = COALESCE($2, name), price = COALESCE($3, price),"
    f" tags = COALESCE($4, tags) WHERE id = $1 RETURNING {ITEM_COLUMNS})"
    f" SELECT {ITEM_JSON} FROM item"
)
SQL_DELETE_ITEM = "DELETE FROM items WHERE id = $1 RETURNING id"
# Keyset pagination: the primary-key index finds the start, so page 10,000 costs what page 1 does.
SQL_PAGE_ITEMS = (
    f"SELECT id, {ITEM_JSON} FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id > $1"
    " ORDER BY id LIMIT $2) AS item ORDER BY id"
)
# One export batch as a single value: the next rows after $1 by id, already joined into
# NDJSON and returned as bytea, so the API only forwards bytes (no per-row Python object,
# no decode/encode). NULLs once the table is exhausted.
SQL_EXPORT_BATCH = (
    f"SELECT max(id), convert_to(string_agg({ITEM_JSON}, E'\\n' ORDER BY id) || E'\\n', 'UTF8')"
    f" FROM (SELECT {ITEM_COLUMNS} FROM items WHERE id > $1 ORDER BY id LIMIT $2) AS item"
)
SQL_COUNT_ITEMS = "SELECT count(*) FROM items"
SQL_PRICE_STATS = (
    "SELECT coalesce(min(price), 0) AS min, coalesce(max(price), 0) AS max,"
    " coalesce(round(avg(price), 2), 0) AS avg FROM items"
)
SQL_NEWEST_ITEM = "SELECT max(created_at) FROM items"
SQL_TOP_TAGS = (
    "SELECT tag, count(*) AS items FROM items, unnest(tags) AS tag"
    " GROUP BY tag ORDER BY items DESC, tag LIMIT $1"
)
SQL_PING = "SELECT 1"

# Label for the query-duration histogram: a fixed set, so Prometheus cardinality stays bounded.
QUERY_NAMES = {
    SQL_GET_ITEMS: "get_items",
    SQL_INSERT_ITEM: "insert_item",
    SQL_UPDATE_ITEM: "update_item",
    SQL_DELETE_ITEM: "delete_item",
    SQL_PAGE_ITEMS: "page_items",
    SQL_EXPORT_BATCH: "export_batch",
    SQL_COUNT_ITEMS: "count_items",
    SQL_PRICE_STATS: "price_stats",
    SQL_NEWEST_ITEM: "newest_item",
    SQL_TOP_TAGS: "top_tags",
    SQL_PING: "ping",
}

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
    """The pool, what asyncpg does not count itself (callers waiting for a connection), and
    the coalesced reads of single items."""

    pool: Pool
    default_wait: float
    waiting: int = 0
    _item_reads: Coalescer[int, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._item_reads = Coalescer(self._items_json)

    async def item_json(self, item_id: int) -> str | None:
        """One item as JSON text, or None; read together with the other ids asked for now."""
        return await self._item_reads.get(item_id)

    async def _items_json(self, item_ids: list[int]) -> dict[int, str]:
        async with self.connection() as conn:
            rows = await conn.fetch(SQL_GET_ITEMS, item_ids)
        return {item_id: body for item_id, body in rows}

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


class ConnectOptions(TypedDict):
    timeout: float
    command_timeout: float | None
    server_settings: dict[str, str]


def _connect_options(settings: Settings, statement_timeout: float | None) -> ConnectOptions:
    return {
        "timeout": settings.db_connect_timeout,
        # Client-side limit on every query (the per-query timeout) ...
        "command_timeout": statement_timeout,
        "server_settings": {
            # ... and the same limit enforced by the server, so an abandoned query stops there too.
            "statement_timeout": str(int((statement_timeout or 0) * 1000)),
            "application_name": "hiload-api",
            # JSON rendered by PostgreSQL carries UTC offsets whatever the server's default.
            "TimeZone": "UTC",
        },
    }


def _observe_query(observe: QueryObserver, record: LoggedQuery) -> None:
    observe(QUERY_NAMES.get(record.query, "other"), record.elapsed)


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Skip asyncpg's default reset query on release, a second round trip per request.

    Safe because no route changes session state (SET, LISTEN, advisory locks, WITH HOLD
    cursors); asyncpg still rolls back any transaction left open before calling this.
    """


async def _init_connection(
    observe: QueryObserver, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    conn.add_query_logger(partial(_observe_query, observe))


@asynccontextmanager
async def open_database(
    settings: Settings, observe_query: QueryObserver
) -> AsyncIterator[Database]:
    """The pool, open while the block runs; if PostgreSQL is down, it starts empty and
    connects once PostgreSQL answers."""

    def open_pool(min_size: int) -> Pool:
        return asyncpg.create_pool(
            settings.database_url,
            min_size=min_size,
            max_size=settings.db_pool_max,
            init=partial(_init_connection, observe_query),
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
