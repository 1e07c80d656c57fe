"""The error contract: clear JSON answers, never a stack trace or SQL in a response."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hiload_api.db import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

# Long enough for a pool reconnect or a failover to finish, short enough to keep clients keen.
RETRY_AFTER_SECONDS = 2


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "Database unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return JSONResponse(
        {"detail": "Database temporarily unavailable"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, where operators look; the client learns only that it failed.
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
