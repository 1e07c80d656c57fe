"""Liveness and readiness for systemd, nginx and the load balancer."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hiload_api.api.deps import DbDep

router = APIRouter(tags=["health"])

# Readiness must answer before a load balancer's own probe gives up.
READY_TIMEOUT = 1.0
OK = b'{"status":"ok"}'


@router.get("/healthz", response_class=Response, responses={200: {"description": "Alive"}})
async def healthz() -> Response:
    """Liveness: the process serves HTTP. Never touches the database."""
    return Response(OK, media_type="application/json")


@router.get(
    "/readyz",
    response_class=Response,
    responses={200: {"description": "Ready"}, 503: {"description": "Database unreachable"}},
)
async def readyz(db: DbDep) -> Response:
    """Readiness: PostgreSQL answers through the pool within a second."""
    await db.ping(READY_TIMEOUT)
    return Response(OK, media_type="application/json")
