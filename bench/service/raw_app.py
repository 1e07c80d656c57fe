"""The framework-tax baseline: the smallest ASGI app answering what /healthz answers."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

BODY = b'{"status":"ok"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
