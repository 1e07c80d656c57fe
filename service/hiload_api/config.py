"""Settings, read once from ``HILOAD_*`` environment variables (the app role's EnvironmentFile)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "HILOAD_"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]

# An origin as browsers send it: scheme, host and optional port, nothing after.
ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    database_url: str = Field(description="PostgreSQL DSN: postgresql://user:password@host:port/db")
    # Where the list, export and stats reads may go: a pool of replicas within a lag bound
    # (a database cluster's PgBouncer read pool). Empty or equal to database_url: one pool.
    database_read_url: str = ""
    db_pool_min: Annotated[int, Field(ge=0, le=100)] = 2
    # About vCPUs x 2..4 per host in total; past ~50 per process PostgreSQL pays in
    # context switches and max_connections long before the API gets faster.
    db_pool_max: Annotated[int, Field(ge=1, le=100)] = 10
    db_statement_timeout: Annotated[float, Field(gt=0, le=3600)] = 5.0
    db_connect_timeout: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Prepared statements asyncpg keeps per connection; 0 behind a pooler in transaction mode
    # that cannot carry them (PgBouncer before 1.21).
    db_statement_cache_size: Annotated[int, Field(ge=0, le=10_000)] = 100
    redis_url: str = ""
    cache_ttl: Annotated[int, Field(ge=1, le=86_400)] = 60
    # Items each process keeps in memory in front of Redis, coherent through Redis's
    # invalidations (hiload_api.cache); 0 turns the near cache off.
    cache_local_items: Annotated[int, Field(ge=0, le=1_000_000)] = 10_000
    log_level: LogLevel = "info"
    root_path: str = ""
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    # Browser origins allowed to call the API cross-site, comma-separated; empty: no CORS
    # at all (no Access-Control-* header is ever sent, so browsers keep the same-origin rule).
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _postgres_dsn(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "database_read_url" and not value:
            return value
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// DSN")
        return value

    @field_validator("db_pool_max")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        pool_min = info.data.get("db_pool_min")
        if pool_min is not None and value < pool_min:
            raise ValueError(f"must be at least {ENV_PREFIX}DB_POOL_MIN ({pool_min})")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be empty (no cache) or a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("root_path")
    @classmethod
    def _root_path_shape(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("must be empty or start with / and not end with /, e.g. /api")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [origin.strip() for origin in value.split(",") if origin.strip()]
        if isinstance(value, list | tuple):
            bad = [o for o in value if not isinstance(o, str) or not (o == "*" or ORIGIN.match(o))]
            if bad:
                raise ValueError(
                    f"must be empty, * or comma-separated origins like https://app.example.com"
                    f" (no path, no trailing slash); refused {bad}"
                )
            return tuple(value)
        return value


def load_settings() -> Settings:
    """Read the environment; raise SettingsError with one line naming the first bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        variable = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else ENV_PREFIX
        if error["type"] == "missing":
            raise SettingsError(f"{variable} is required but not set") from None
        # The DSN may carry a password: never echo it back.
        shown = "" if variable.endswith("_URL") else f" (got {error['input']!r})"
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{variable} is invalid: {message}{shown}") from None
