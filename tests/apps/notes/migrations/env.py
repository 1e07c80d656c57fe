"""Alembic's async environment: the URL from DATABASE_URL, one connection, one lock."""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

# Held for the migration's transaction, so hosts that migrate at once run one after another
# and every later one finds the schema already at head. Any fixed number, unique to this app.
MIGRATION_LOCK_KEY = 7_146_589_201

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def database_url() -> str:
    value = os.environ.get("DATABASE_URL", "")
    if not value:
        raise CommandError("DATABASE_URL is required but not set")
    try:
        make_url(value)
    except ArgumentError:
        # The message leaves the value out: it holds the password.
        raise CommandError("DATABASE_URL is invalid: expected a SQLAlchemy URL") from None
    return value


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
