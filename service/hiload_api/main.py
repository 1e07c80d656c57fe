"""The application factory: ``uvicorn --factory hiload_api.main:create_app``."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from hiload_api.api import docs, health, items, metrics
from hiload_api.api.routing import add_direct_routes, refuse_skipped_dependencies
from hiload_api.cache import open_item_cache
from hiload_api.config import Settings, SettingsError, load_settings
from hiload_api.crud import QUERY_NAMES, ItemStore
from hiload_api.db import open_database
from hiload_api.errors import install_error_handlers
from hiload_api.metrics import Metrics, MetricsMiddleware, PoolCollector
from hiload_api.middleware import BodySizeLimitMiddleware, RootPathMiddleware
from hiload_api.static import DOCS_STATIC_PREFIX, swagger_ui_dir

logger = logging.getLogger("hiload_api")

# Every method the API serves: what a cross-origin browser may send when CORS is configured.
CORS_METHODS = ("GET", "POST", "PATCH", "DELETE")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app_metrics: Metrics = app.state.metrics
    # Before anything opens: routes may have been included since create_app().
    refuse_skipped_dependencies(app)
    async with AsyncExitStack() as stack:
        stack.enter_context(app_metrics.counting_refusals())
        database = await stack.enter_async_context(
            open_database(settings, app_metrics.observe_query, QUERY_NAMES)
        )
        # Reads that may lag (list, export, stats) get a pool of their own when a read DSN
        # differs from the primary's; an item read by id stays on the primary, so a client
        # always reads back what it wrote.
        replica = (
            await stack.enter_async_context(
                open_database(
                    settings, app_metrics.observe_query, QUERY_NAMES, settings.database_read_url
                )
            )
            if settings.database_read_url not in ("", settings.database_url)
            else None
        )
        cache = (
            await stack.enter_async_context(open_item_cache(settings, app_metrics.cache_reads))
            if settings.redis_url
            else None
        )
        app.state.db = database
        app.state.store = ItemStore(database, cache, replica)
        pools = {"primary": database, **({"read": replica} if replica else {})}
        collectors = [PoolCollector(pools), *(cache.collectors() if cache else [])]
        stack.enter_context(app_metrics.collecting(*collectors))
        # Everything alive now lives as long as the process. Frozen, it is no longer walked by
        # every full collection, which otherwise stalls the loop for tens of milliseconds.
        gc.freeze()
        yield


def _configure_logging(level: str) -> None:
    # uvicorn configures only its own loggers; give ours a handler once per process.
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


def create_app(settings: Settings | None = None) -> FastAPI:
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError as exc:
            # One line and a non-zero exit, rather than a traceback through uvicorn's loader.
            sys.stderr.write(f"hiload-api: {exc}\n")
            raise SystemExit(2) from None
    _configure_logging(settings.log_level)

    app = FastAPI(
        title="hiload API",
        version=version("hiload"),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry support checks for providers on every request; the service
        # exports Prometheus metrics of its own instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_error_handlers(app)
    # The reads that need nothing injected first, in the app's own router, the item reads (the
    # traffic) ahead of the health probes; then the rest.
    add_direct_routes(app, items.reads, health.router)
    app.include_router(items.router)
    app.include_router(metrics.router)
    app.include_router(docs.router)
    app.mount(DOCS_STATIC_PREFIX, StaticFiles(directory=swagger_ui_dir()), name="docs-static")
    # Each middleware added wraps the ones before it.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    if settings.cors_origins:
        # Off unless configured; no cookies or credentials cross origins.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=["Content-Type"],
            allow_credentials=False,
        )
    # Added last, so outermost: metrics see every request, including the refused ones.
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
