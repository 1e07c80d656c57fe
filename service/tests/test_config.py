from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hiload_api.config import SettingsError, load_settings
from tests.conftest import DSN

VENV_BIN = Path(sys.executable).parent


def clean_env(**variables: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HILOAD_")}
    return base | variables


def test_defaults_need_only_the_dsn(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == DSN
    assert settings.redis_url == ""
    assert (settings.db_pool_min, settings.db_pool_max) == (2, 10)


def test_every_setting_is_read_from_its_variable(env: pytest.MonkeyPatch) -> None:
    values = {
        "DB_POOL_MIN": "3",
        "DB_POOL_MAX": "30",
        "DB_STATEMENT_TIMEOUT": "2.5",
        "DB_CONNECT_TIMEOUT": "1",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CACHE_TTL": "120",
        "LOG_LEVEL": "WARNING",
        "ROOT_PATH": "/api",
        "MAX_BODY_BYTES": "2048",
    }
    for name, value in values.items():
        env.setenv(f"HILOAD_{name}", value)
    settings = load_settings()
    assert settings.db_pool_min == 3
    assert settings.db_pool_max == 30
    assert settings.db_statement_timeout == 2.5
    assert settings.db_connect_timeout == 1
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.cache_ttl == 120
    assert settings.log_level == "warning"
    assert settings.root_path == "/api"
    assert settings.max_body_bytes == 2048


def test_missing_dsn_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.delenv("HILOAD_DATABASE_URL")
    with pytest.raises(SettingsError, match=r"^HILOAD_DATABASE_URL is required but not set$"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DB_POOL_MAX", "many"),
        ("DB_POOL_MAX", "1000"),
        ("DB_POOL_MIN", "-1"),
        ("DB_STATEMENT_TIMEOUT", "0"),
        ("DB_CONNECT_TIMEOUT", "soon"),
        ("REDIS_URL", "http://cache"),
        ("CACHE_TTL", "0"),
        ("LOG_LEVEL", "chatty"),
        ("ROOT_PATH", "api/"),
        ("MAX_BODY_BYTES", "10"),
    ],
)
def test_bad_value_names_the_variable_on_one_line(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(f"HILOAD_{variable}", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"HILOAD_{variable} is invalid: ")
    assert "\n" not in message


def test_pool_min_above_max_names_the_max(env: pytest.MonkeyPatch) -> None:
    env.setenv("HILOAD_DB_POOL_MIN", "20")
    env.setenv("HILOAD_DB_POOL_MAX", "10")
    with pytest.raises(SettingsError, match=r"^HILOAD_DB_POOL_MAX is invalid: .*DB_POOL_MIN"):
        load_settings()


def test_a_bad_dsn_is_never_echoed(env: pytest.MonkeyPatch) -> None:
    env.setenv("HILOAD_DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "command",
    [
        [str(VENV_BIN / "hiload-api"), "migrate"],
        [
            str(VENV_BIN / "uvicorn"),
            "--factory",
            "hiload_api.main:create_app",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--port",
            "0",
        ],
    ],
    ids=["migrate", "uvicorn"],
)
def test_start_up_with_a_bad_setting_fails_with_one_line(command: list[str]) -> None:
    result = subprocess.run(
        command,
        env=clean_env(HILOAD_DATABASE_URL=DSN, HILOAD_DB_POOL_MAX="lots"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "HILOAD_" in line]
    assert lines == [
        "hiload-api: HILOAD_DB_POOL_MAX is invalid: Input should be a valid integer, "
        "unable to parse string as an integer (got 'lots')"
    ]
