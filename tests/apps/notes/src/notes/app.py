"""The application factory: ``uvicorn --factory notes.app:create_app``."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from notes import api
from notes.config import Settings, SettingsError, load_settings
from notes.db import open_engine


class State(TypedDict):
    """What every request sees as request.state for the life of the process."""

    engine: AsyncEngine


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[State]:
    engine = open_engine(app.state.settings)
    try:
        yield {"engine": engine}
    finally:
        await engine.dispose()


def create_app(settings: Settings | None = None) -> Starlette:
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError as exc:
            # One line and a non-zero exit, rather than a traceback through uvicorn's loader.
            sys.stderr.write(f"notes: {exc}\n")
            raise SystemExit(2) from None
    app = Starlette(routes=api.routes, exception_handlers=api.exception_handlers, lifespan=lifespan)
    app.state.settings = settings
    app.state.version = version("notes")
    return app
