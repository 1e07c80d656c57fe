"""The app and its migrations run as the bundle runs them: separate processes, environment only.

PostgreSQL comes from hiload's own throw-away servers (service/tests/servers.py: Debian's
binaries on a private port and directory), loaded from that file rather than copied.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

PROJECT = Path(__file__).resolve().parents[1]
# The executables installed beside the interpreter running the tests (the project's venv).
BIN = Path(sys.executable).parent
ASGI_TARGET = "notes.app:create_app"
START_TIMEOUT = 30.0

TOKEN = "notes-test-token-4f1d9c"
PASSWORD = "notes-test-password-8b2e"
GREETING = "Greetings from the notes tests"
POOL_SIZE = 3
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _load_hiload_servers() -> ModuleType:
    path = PROJECT.parents[2] / "service" / "tests" / "servers.py"
    spec = importlib.util.spec_from_file_location("hiload_test_servers", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"hiload's test servers not found at {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


servers = _load_hiload_servers()
Postgres = servers.Postgres
free_port = servers.free_port
PG_BIN: Path = servers.PG_BIN


def asyncpg_url(postgres: Any, database: str, user: str = "postgres", password: str = "") -> str:
    secret = f":{password}" if password else ""
    return f"postgresql+asyncpg://{user}{secret}@127.0.0.1:{postgres.port}/{database}"


def clean_env(**variables: str) -> dict[str, str]:
    """A process environment with only what is given, so nothing leaks in from the caller's."""
    return {"PATH": os.environ["PATH"], **variables}


def app_env(database_url: str) -> dict[str, str]:
    """The environment the bundle would write to the app's environment file."""
    return clean_env(
        DATABASE_URL=database_url,
        NOTES_API_TOKEN=TOKEN,
        NOTES_GREETING=GREETING,
        NOTES_DB_POOL_SIZE=str(POOL_SIZE),
    )


def alembic(
    database_url: str | None, *args: str, cwd: Path = PROJECT
) -> subprocess.CompletedProcess[str]:
    """`alembic <args>` from the project (or a release) directory, as the migrate step runs it."""
    return subprocess.run(
        [str(BIN / "alembic"), *args],
        cwd=cwd,
        env=clean_env() if database_url is None else clean_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def uvicorn_argv(port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "--factory",
        ASGI_TARGET,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@dataclass
class AppProcess:
    """`uvicorn --factory notes.app:create_app` in its own process; its output goes to log."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                uvicorn_argv(self.port), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app did not start:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=START_TIMEOUT)
            self.process = None
