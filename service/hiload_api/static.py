"""Where the Swagger UI assets live: installed with the package, so /docs needs no CDN.

Kept free of web-framework imports so that ``hiload-api static-dir`` starts instantly.
"""

from __future__ import annotations

from pathlib import Path

from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

# URL prefix of the assets; nginx may serve the same directory from disk at this prefix.
DOCS_STATIC_PREFIX = "/static/docs"


def swagger_ui_dir() -> Path:
    return Path(str(swagger_ui_path)).resolve()
