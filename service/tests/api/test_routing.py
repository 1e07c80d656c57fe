"""Every route has one implementation, reached through the router and the whole middleware
stack; the hot reads' lighter route class skips nothing silently."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import FastAPIError
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hiload_api.api import items
from hiload_api.api.routing import DirectRoute, add_direct_routes
from hiload_api.config import Settings
from hiload_api.main import create_app
from hiload_api.models import ItemId
from tests.conftest import serve

HEADER = b"x-test-pass"
REFUSED = 418


class RequireHeader:
    """Refuses every request without the header: a stand-in for an auth or tenancy check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (HEADER, b"1") not in scope["headers"]:
            await JSONResponse({"detail": "no test header"}, REFUSED)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# Outermost is where add_middleware puts it; innermost is next to the router, where
# nothing may answer in a route's place.
@pytest.mark.parametrize("position", ["outermost", "innermost"])
async def test_a_middleware_reaches_every_documented_route(
    settings: Settings, position: str
) -> None:
    app = create_app(settings)
    if position == "outermost":
        app.add_middleware(RequireHeader)
    else:
        app.user_middleware.append(Middleware(RequireHeader))
    async with serve(settings, app) as served:
        spec = (await served.client.get("/openapi.json", headers={HEADER.decode(): "1"})).json()
        operations = [
            (method.upper(), path.replace("{item_id}", "1"))
            for path, methods in spec["paths"].items()
            for method in methods
        ]
        assert ("GET", "/items/1") in operations
        assert ("GET", "/healthz") in operations
        for method, path in operations:
            response = await served.client.request(method, path)
            assert response.status_code == REFUSED, (method, path, response.text)
        assert (await served.client.get("/healthz", headers={HEADER.decode(): "1"})).is_success


async def require_token(x_token: Annotated[str, Header()]) -> None:
    """A dependency a DirectRoute would not run."""


@pytest.mark.parametrize("where", ["include_router", "the app's router"])
async def test_a_dependency_the_hot_reads_would_skip_stops_the_start_up(
    settings: Settings, where: str
) -> None:
    app = create_app(settings)
    if where == "include_router":
        app.include_router(items.reads, prefix="/v2", dependencies=[Depends(require_token)])
    else:
        # What FastAPI(dependencies=[...]) in create_app() would do.
        app.router.dependencies.append(Depends(require_token))
    with pytest.raises(FastAPIError, match="is a DirectRoute, which runs no dependencies"):
        async with app.router.lifespan_context(app):
            pytest.fail("the app started")


async def echo(request: Request, item_id: ItemId) -> Response:
    return Response(f"{item_id} {request.method}")


async def with_a_dependency(
    item_id: ItemId, token: Annotated[None, Depends(require_token)]
) -> Response:
    return Response()


def test_only_direct_routes_go_in_the_apps_own_router() -> None:
    # An ordinary route there would miss the app's dependencies and dependency overrides.
    with pytest.raises(FastAPIError, match="only DirectRoutes"):
        add_direct_routes(FastAPI(), items.router)


def test_what_a_direct_route_cannot_pass_is_refused_when_it_is_added() -> None:
    with pytest.raises(FastAPIError, match="nothing for with_a_dependency's 'token'"):
        APIRouter().add_api_route("/{item_id}", with_a_dependency, route_class_override=DirectRoute)
    guarded = APIRouter(dependencies=[Depends(require_token)])
    with pytest.raises(FastAPIError, match="is a DirectRoute"):
        guarded.add_api_route("/{item_id}", echo, route_class_override=DirectRoute)


@pytest.mark.parametrize(
    "item_id", ["1", "007", "9223372036854775807", "0", "-1", "1.5", "x", "9223372036854775808"]
)
async def test_path_parameters_are_validated_as_fastapi_validates_them(item_id: str) -> None:
    answers = []
    for route_class in (APIRoute, DirectRoute):
        app = FastAPI()
        app.router.add_api_route("/items/{item_id}", echo, route_class_override=route_class)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test"
        ) as client:
            response = await client.get(f"/items/{item_id}")
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
