"""Typed dependencies: routes get what the lifespan created, never module globals.

They are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency
in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hiload_api.crud import ItemStore
from hiload_api.db import Database
from hiload_api.metrics import Metrics


async def get_db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_store(request: Request) -> ItemStore:
    store: ItemStore = request.app.state.store
    return store


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


DbDep = Annotated[Database, Depends(get_db)]
StoreDep = Annotated[ItemStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
