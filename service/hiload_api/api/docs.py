"""Interactive docs served from assets installed with the package: hosts have no internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from hiload_api.static import DOCS_STATIC_PREFIX

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    # Relative to root_path so the page works behind a proxy prefix too.
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=request.app.title + " - docs",
        swagger_js_url=f"{root}{DOCS_STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_STATIC_PREFIX}/favicon-32x32.png",
        oauth2_redirect_url=None,
    )
