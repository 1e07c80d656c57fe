"""The routes: health probes, notes, and what the environment told the app."""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notes import db
from notes.config import Settings

# Readiness must answer before a load balancer's own probe gives up.
READY_TIMEOUT = 1.0
RETRY_AFTER_SECONDS = 2
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_TITLE = 200
MAX_BODY = 10_000
# Ids are bigint: a larger one names no note, and PostgreSQL would refuse to compare it.
MAX_ID = 2**63 - 1


class InvalidInputError(Exception):
    """The request's query or body is malformed: answered 422 with one error per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class NewNote:
    title: str
    body: str
    pinned: bool


def parse_new_note(payload: object) -> NewNote:
    if not isinstance(payload, dict):
        raise InvalidInputError({"request": "the body must be a JSON object"})
    errors = {name: "unknown field" for name in payload.keys() - {"title", "body", "pinned"}}
    title = payload.get("title", "")
    if not isinstance(title, str):
        errors["title"] = "must be a string"
    elif not title.strip() or len(title) > MAX_TITLE:
        errors["title"] = f"required: 1 to {MAX_TITLE} characters, not only spaces"
    body = payload.get("body", "")
    if not isinstance(body, str):
        errors["body"] = "must be a string"
    elif len(body) > MAX_BODY:
        errors["body"] = f"must hold at most {MAX_BODY} characters"
    pinned = payload.get("pinned", False)
    if not isinstance(pinned, bool):
        errors["pinned"] = "must be true or false"
    if errors:
        raise InvalidInputError(errors)
    return NewNote(title=title, body=body, pinned=pinned)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInputError({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return int(raw)


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.state.engine
    return engine


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _authorize(request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = _settings(request).api_token
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


async def live(request: Request) -> Response:
    """Liveness: the process serves HTTP. Never touches the database."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Readiness: PostgreSQL answers SELECT 1 through the pool within READY_TIMEOUT."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await db.ping(_engine(request))
    except TimeoutError:
        raise db.DatabaseUnavailableError from None
    return JSONResponse({"status": "ok"})


async def list_notes(request: Request) -> Response:
    limit = parse_limit(request.query_params.get("limit"))
    return JSONResponse(await db.list_notes(_engine(request), limit))


async def get_note(request: Request) -> Response:
    note_id: int = request.path_params["note_id"]
    note = await db.get_note(_engine(request), note_id) if note_id <= MAX_ID else None
    if note is None:
        raise HTTPException(404, "no such note")
    return JSONResponse(note)


async def create_note(request: Request) -> Response:
    _authorize(request)
    try:
        payload = json.loads(await request.body())
    except ValueError:
        raise InvalidInputError({"request": "the body must be JSON"}) from None
    new = parse_new_note(payload)
    note = await db.add_note(_engine(request), new.title, new.body, new.pinned)
    return JSONResponse(note, status_code=201, headers={"Location": f"/notes/{note['id']}"})


async def greeting(request: Request) -> Response:
    return JSONResponse(
        {"greeting": _settings(request).greeting, "version": request.app.state.version}
    )


async def version(request: Request) -> Response:
    return JSONResponse({"version": request.app.state.version})


routes = [
    Route("/health/live", live, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
    Route("/notes", list_notes, methods=["GET"]),
    Route("/notes", create_note, methods=["POST"]),
    Route("/notes/{note_id:int}", get_note, methods=["GET"]),
    Route("/greeting", greeting, methods=["GET"]),
    Route("/version", version, methods=["GET"]),
]


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInputError)
    return JSONResponse({"detail": exc.errors}, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"detail": "the database is unavailable"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


exception_handlers = {
    HTTPException: http_error,
    InvalidInputError: invalid_input,
    db.DatabaseUnavailableError: database_unavailable,
}
