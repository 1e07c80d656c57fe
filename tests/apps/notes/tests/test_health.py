"""Liveness never touches the database; readiness is PostgreSQL answering within a second."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support import AppProcess, app_env, asyncpg_url

RETRY_AFTER = "2"


def test_live(client: httpx.Client) -> None:
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready(client: httpx.Client) -> None:
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def wait_for_status(client: httpx.Client, path: str, status: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (answered := client.get(path).status_code) != status:
        assert time.monotonic() < deadline, f"{path} still answers {answered}, not {status}"
        time.sleep(0.1)


def test_database_down_is_503_with_retry_after_then_back(
    postgres: Any, client: httpx.Client
) -> None:
    assert client.get("/health/ready").status_code == 200
    postgres.stop()
    try:
        for path in ("/health/ready", "/notes"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == RETRY_AFTER
            assert response.json() == {"detail": "the database is unavailable"}
        assert client.get("/health/live").status_code == 200
    finally:
        postgres.start()

    # The pool replaces its dead connections by itself: no restart of the app.
    wait_for_status(client, "/health/ready", 200)
    assert client.get("/notes").status_code == 200


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A port that accepts TCP connections and never answers, like a hung database host."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_ready_gives_up_after_a_second(
    silent_database: int, launch: Callable[[dict[str, str]], AppProcess]
) -> None:
    url = f"postgresql+asyncpg://notes@127.0.0.1:{silent_database}/notes"
    # The app starts without its database: the pool connects on first use.
    app = launch(app_env(url))

    started = time.monotonic()
    response = httpx.get(f"{app.url}/health/ready", timeout=10)
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert 0.9 < elapsed < 2.5
    assert httpx.get(f"{app.url}/health/live").status_code == 200


def test_app_without_its_database_starts_and_is_not_ready(
    postgres: Any, launch: Callable[[dict[str, str]], AppProcess]
) -> None:
    app = launch(app_env(asyncpg_url(postgres, "no_such_database")))

    response = httpx.get(f"{app.url}/health/ready", timeout=10)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
