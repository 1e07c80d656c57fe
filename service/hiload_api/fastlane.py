"""The two hottest reads, answered without FastAPI's per-request machinery.

Matching a route, solving its dependencies, validating its parameters and building a Response
cost FastAPI ~65 µs of CPU a request here: more than everything else a /healthz or a cached item
read does (`make bench-service` measures both ways). For ``GET /healthz`` and for
``GET /items/{id}`` with an id FastAPI would accept, the lane answers itself — the same bytes,
headers, metrics label and error contract as the FastAPI routes, through the same
``read_item``. Every other request, and every id the lane does not accept, goes on to
FastAPI, whose routes stay the documented and validating implementation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hiload_api.api.health import OK
from hiload_api.api.items import JSON, _not_found
from hiload_api.db import DATABASE_UNAVAILABLE
from hiload_api.errors import database_unavailable
from hiload_api.models import MAX_ITEM_ID

HEALTHZ = "/healthz"
ITEM = "/items/{item_id}"
# The ids ItemId accepts, 1 .. 2**63 - 1, written in ASCII digits; the range is checked after.
ITEM_PATH = re.compile(r"/items/([0-9]{1,19})")
CONTENT_TYPE = (b"content-type", JSON.encode())


def _route_path(scope: Scope) -> str:
    """The path routing sees: without the root path when the proxy did not strip it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path + "/"):
        return path[len(root_path) :]
    return path


async def _send_json(send: Send, status: int, body: bytes) -> None:
    # The headers a starlette Response(body, media_type=JSON) sends, in its order.
    headers = [(b"content-length", str(len(body)).encode()), CONTENT_TYPE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class RouteTemplate:
    """What the metrics read from ``scope["route"]``: the template of the route answered."""

    path: str


HEALTHZ_ROUTE = RouteTemplate(HEALTHZ)
ITEM_ROUTE = RouteTemplate(ITEM)


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = _route_path(scope)
            if path == HEALTHZ:
                scope["route"] = HEALTHZ_ROUTE
                await _send_json(send, 200, OK)
                return
            match = ITEM_PATH.fullmatch(path)
            if match is not None and 0 < (item_id := int(match[1])) <= MAX_ITEM_ID:
                scope["route"] = ITEM_ROUTE
                await self._item(scope, receive, send, item_id)
                return
        await self.app(scope, receive, send)

    async def _item(self, scope: Scope, receive: Receive, send: Send, item_id: int) -> None:
        try:
            body = await scope["app"].state.store.read(item_id)
        except DATABASE_UNAVAILABLE as exc:
            # The error contract of the FastAPI routes, from the same handler.
            response = await database_unavailable(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        if body is None:
            # What FastAPI's handler makes of the route's HTTPException(404).
            await JSONResponse({"detail": _not_found(item_id).detail}, 404)(scope, receive, send)
            return
        await _send_json(send, 200, body)
