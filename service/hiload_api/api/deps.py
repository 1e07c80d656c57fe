"""Typed dependencies: routes get what the lifespan created, never module globals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hiload_api.cache import ItemCache
from hiload_api.db import Database
from hiload_api.metrics import Metrics


def get_db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_cache(request: Request) -> ItemCache:
    cache: ItemCache = request.app.state.cache
    return cache


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


DbDep = Annotated[Database, Depends(get_db)]
CacheDep = Annotated[ItemCache, Depends(get_cache)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
