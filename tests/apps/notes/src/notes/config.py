"""Settings, read once from the environment when the factory runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DRIVER = "postgresql+asyncpg"
DEFAULT_POOL_SIZE = 5
MAX_POOL_SIZE = 100
DEFAULT_GREETING = "Hello from notes"


class SettingsError(Exception):
    """A variable is missing or invalid; the message is one line naming it, never its value."""


@dataclass(frozen=True)
class Settings:
    # Both hold secrets (the URL its password): left out of repr, so never in a traceback.
    database_url: str = field(repr=False)
    api_token: str = field(repr=False)
    greeting: str = DEFAULT_GREETING
    # The most connections one process opens: the pool never overflows it.
    db_pool_size: int = DEFAULT_POOL_SIZE


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise SettingsError(f"{name} is required but not set")
    return value


def _database_url(environ: Mapping[str, str]) -> str:
    value = _required(environ, "DATABASE_URL")
    try:
        url = make_url(value)
    except ArgumentError:
        raise SettingsError(
            f"DATABASE_URL is invalid: expected {DRIVER}://user:password@host:port/database"
        ) from None
    if url.drivername != DRIVER:
        raise SettingsError(
            f"DATABASE_URL is invalid: the scheme must be {DRIVER}://, not {url.drivername}://"
        )
    if not url.database:
        raise SettingsError("DATABASE_URL is invalid: it names no database")
    return value


def _pool_size(environ: Mapping[str, str]) -> int:
    raw = environ.get("NOTES_DB_POOL_SIZE", "")
    if not raw:
        return DEFAULT_POOL_SIZE
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_POOL_SIZE:
        raise SettingsError(
            f"NOTES_DB_POOL_SIZE is invalid: expected a whole number from 1 to {MAX_POOL_SIZE}"
            f" (got {raw!r})"
        )
    return int(raw)


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the environment; raise SettingsError naming the first bad variable."""
    return Settings(
        database_url=_database_url(environ),
        api_token=_required(environ, "NOTES_API_TOKEN"),
        greeting=environ.get("NOTES_GREETING", DEFAULT_GREETING),
        db_pool_size=_pool_size(environ),
    )
