"""What routes get from the lifespan, never from module globals.

Routes declare typed dependencies (``StoreDep``). They are ``async def`` although they never
await: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per dependency
per request. DirectRoutes solve no dependency, and call ``store_of``/``database_of`` instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hiload_api.crud import ItemStore
from hiload_api.db import Database
from hiload_api.metrics import Metrics


def database_of(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def store_of(request: Request) -> ItemStore:
    store: ItemStore = request.app.state.store
    return store


async def get_store(request: Request) -> ItemStore:
    return store_of(request)


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


StoreDep = Annotated[ItemStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
