"""What the environment tells the app: its greeting, its secrets, its database and pool."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import httpx
import pytest

from notes.config import DEFAULT_POOL_SIZE, Settings, SettingsError, load_settings
from tests.support import (
    AUTH,
    GREETING,
    PASSWORD,
    POOL_SIZE,
    START_TIMEOUT,
    TOKEN,
    AppProcess,
    app_env,
    free_port,
    uvicorn_argv,
)

URL = "postgresql+asyncpg://notes:pw@127.0.0.1:5432/notes"


def test_greeting_and_version_come_from_the_deployment(client: httpx.Client) -> None:
    assert version("notes") == "1.0.0"
    assert client.get("/greeting").json() == {"greeting": GREETING, "version": "1.0.0"}
    assert client.get("/version").json() == {"version": "1.0.0"}


def test_secrets_never_reach_the_output(app: AppProcess, client: httpx.Client) -> None:
    client.post("/notes", json={"title": "with the token"}, headers=AUTH)
    client.post(
        "/notes", json={"title": "near miss"}, headers={"Authorization": f"Bearer {TOKEN}x"}
    )

    output = app.output()
    assert "POST /notes" in output, "the access log was expected in the output"
    assert TOKEN not in output
    assert PASSWORD not in output


def test_pool_never_opens_more_than_its_size(client: httpx.Client, postgres: Any) -> None:
    """The role may open POOL_SIZE connections: one more and requests would fail."""
    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(lambda _: client.get("/notes").status_code, range(300)))

    assert set(statuses) == {200}
    opened = postgres.psql(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE usename = 'notes' AND application_name = 'notes'"
    )
    assert int(opened) == POOL_SIZE


def without(env: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in env.items() if key != name}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (without(app_env(URL), "DATABASE_URL"), "notes: DATABASE_URL is required but not set"),
        (
            without(app_env(URL), "NOTES_API_TOKEN"),
            "notes: NOTES_API_TOKEN is required but not set",
        ),
        (
            {**app_env(URL), "DATABASE_URL": "postgresql://notes:pw-in-url@db/notes"},
            "notes: DATABASE_URL is invalid: the scheme must be postgresql+asyncpg://,"
            " not postgresql://",
        ),
        (
            {**app_env(URL), "DATABASE_URL": "not a url pw-in-url"},
            "notes: DATABASE_URL is invalid:"
            " expected postgresql+asyncpg://user:password@host:port/database",
        ),
        (
            {**app_env(URL), "NOTES_DB_POOL_SIZE": "0"},
            "notes: NOTES_DB_POOL_SIZE is invalid: expected a whole number from 1 to 100 (got '0')",
        ),
    ],
)
def test_bad_setting_stops_the_server_with_one_line(env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        uvicorn_argv(free_port()), env=env, capture_output=True, text=True, timeout=START_TIMEOUT
    )

    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "pw-in-url" not in result.stdout + result.stderr


def test_defaults() -> None:
    settings = load_settings({"DATABASE_URL": URL, "NOTES_API_TOKEN": TOKEN})

    assert settings.db_pool_size == DEFAULT_POOL_SIZE == 5
    assert settings.greeting == "Hello from notes"


def test_settings_repr_hides_secrets() -> None:
    shown = repr(Settings(database_url=URL, api_token=TOKEN))

    assert "pw" not in shown
    assert TOKEN not in shown


@pytest.mark.parametrize("size", ["101", "-1", "five", "2.5", " 3"])
def test_pool_size_out_of_range_is_refused(size: str) -> None:
    environ = {"DATABASE_URL": URL, "NOTES_API_TOKEN": TOKEN, "NOTES_DB_POOL_SIZE": size}

    with pytest.raises(SettingsError, match="NOTES_DB_POOL_SIZE is invalid"):
        load_settings(environ)
