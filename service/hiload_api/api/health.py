"""Liveness and readiness for systemd, nginx and the load balancer.

Every load balancer probes them every few seconds and they need nothing injected, so both are
DirectRoutes (hiload_api.api.routing).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from hiload_api.api.deps import database_of
from hiload_api.api.routing import DirectRoute

router = APIRouter(tags=["health"], route_class=DirectRoute)

# Readiness must answer before a load balancer's own probe gives up.
READY_TIMEOUT = 1.0
OK = b'{"status":"ok"}'
JSON = "application/json"


@router.get("/healthz", response_class=Response, responses={200: {"description": "Alive"}})
async def healthz() -> Response:
    """Liveness: the process serves HTTP. Never touches the database."""
    return Response(OK, media_type=JSON)


@router.get(
    "/readyz",
    response_class=Response,
    responses={200: {"description": "Ready"}, 503: {"description": "Database unreachable"}},
)
async def readyz(request: Request) -> Response:
    """Readiness: PostgreSQL answers through the pool within a second."""
    await database_of(request).ping(READY_TIMEOUT)
    return Response(OK, media_type=JSON)
