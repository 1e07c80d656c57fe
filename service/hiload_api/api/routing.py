"""DirectRoute: a path operation documented like any other, called without dependency injection.

For the reads that need nothing injected, ``GET /items/{id}`` and ``GET /healthz`` above all,
FastAPI's per-request work — solving dependencies, reading the body, serializing the return
value — costs more CPU than everything else the request does (`make bench-service` serves both
as ordinary routes too). A DirectRoute is still an APIRoute:
the app's router matches it behind the whole middleware stack, /openapi.json documents its
parameters and responses, and its errors are raised, so 404, 422 and 503 come from the same
exception handlers as every other route's. Only its handling is lighter: it validates each
path parameter with the very type the schema is generated from, awaits the endpoint with those
values (and the ``Request``, when the endpoint takes one) and sends the Response the endpoint
returns. That handler is what ``get_route_handler`` (FastAPI's hook for custom route classes)
returns, and ``handle`` calls it directly, without the two AsyncExitStacks per request that
FastAPI's wrapper keeps for dependencies with ``yield``, of which a DirectRoute runs none.

What it cannot honour, it refuses rather than ignores:
- an endpoint parameter other than a path parameter or the Request, or a dependency on the
  route or its APIRouter, when the route is created;
- a dependency that ``include_router()`` or the app adds, when the app starts
  (``refuse_skipped_dependencies``, called by the lifespan).

DirectRoutes are matched in the app's own router, ahead of the included ones
(``add_direct_routes``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, get_type_hints

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import FastAPIError, RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)  # FastAPI's 405
            return
        response = await self._handler(Request(scope, receive, send))
        await response(scope, receive, send)

    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint
        if self.dependencies:
            raise _would_skip(self.path, self.dependencies)
        if not inspect.iscoroutinefunction(endpoint):
            raise FastAPIError(f"{self.path}: a DirectRoute's endpoint must be async def")
        hints = get_type_hints(endpoint, include_extras=True)
        request_name: str | None = None
        path_types: list[tuple[str, TypeAdapter[Any]]] = []
        for name in inspect.signature(endpoint).parameters:
            if hints.get(name) is Request:
                request_name = name
            elif name in self.param_convertors:
                path_types.append((name, TypeAdapter(hints[name])))
            else:
                raise FastAPIError(
                    f"{self.path}: a DirectRoute passes its endpoint the path parameters and"
                    f" the Request only, nothing for {endpoint.__qualname__}'s {name!r}"
                )

        async def handle(request: Request) -> Response:
            values: dict[str, Any] = {}
            errors: list[Any] = []
            path_params = request.path_params
            for name, path_type in path_types:
                try:
                    values[name] = path_type.validate_python(path_params[name])
                except ValidationError as exc:
                    errors += [
                        {**error, "loc": ("path", name, *error["loc"])}
                        for error in exc.errors(include_url=False)
                    ]
            if errors:
                raise RequestValidationError(errors)
            if request_name is not None:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        # What handle() calls; FastAPI calls this hook again for each inclusion of the route.
        self._handler = handle
        return handle


def add_direct_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' DirectRoutes in the app's own router, ahead of the routers it includes.

    ``app.include_router()`` keeps an included router as one node that FastAPI (since 0.137)
    resolves on every request, matching its routes twice: in-process, a cached
    ``GET /items/{id}`` cost 40 µs of CPU that way against 19 µs from the app's router. A
    DirectRoute takes nothing from an inclusion — it solves no dependency — so it can sit in
    the app's router itself. A route that solves dependencies could not: it would miss the
    app's dependencies and dependency overrides, so it is refused here.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, DirectRoute):
                raise FastAPIError(f"{route}: only DirectRoutes go in the app's own router")
        app.router.routes.extend(router.routes)


def refuse_skipped_dependencies(app: FastAPI) -> None:
    """Raise if a dependency applies to a DirectRoute, which would not run it: one that
    ``include_router(..., dependencies=...)`` adds reaches the route only through the app's
    route contexts, and one of the app's own (``FastAPI(dependencies=...)``) would be skipped by
    the DirectRoutes in the app's router as well."""
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if not isinstance(original, DirectRoute):
            continue
        own_router = app.router.dependencies if original in app.routes else []
        if route.dependencies or own_router:
            raise _would_skip(str(route.path), [*own_router, *route.dependencies])


def _would_skip(path: str, dependencies: Sequence[Any]) -> FastAPIError:
    return FastAPIError(
        f"{path} is a DirectRoute, which runs no dependencies, but {list(dependencies)} apply"
        " to it: make it an ordinary route, or check this another way (middleware)"
    )
