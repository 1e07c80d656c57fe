"""Pure ASGI middleware: no per-request task or body copy, unlike BaseHTTPMiddleware."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body larger than {limit} bytes")


class BodySizeLimitMiddleware:
    """413 from the Content-Length header alone, or as soon as a chunked body passes the limit.

    Raised as an HTTPException from ``receive`` so FastAPI's body reader passes it through
    untouched instead of reporting a generic parse error.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                too_large = BodyTooLarge(limit)
                response = JSONResponse({"detail": too_large.detail}, too_large.status_code)
                await response(scope, receive, send)
                return

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, receive_within_limit, send)


class RootPathMiddleware:
    """Serve under a proxy path prefix (HILOAD_ROOT_PATH) whether or not the proxy strips it.

    Routing drops the prefix from the path when present; the docs and OpenAPI URLs gain it.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["root_path"] = self.root_path
        await self.app(scope, receive, send)
