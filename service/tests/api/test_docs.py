from __future__ import annotations

import re

import httpx

from hiload_api.config import Settings
from tests.conftest import serve

LINK = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


async def local_links(client: httpx.AsyncClient, path: str) -> list[str]:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    links = LINK.findall(response.text)
    assert links
    assert not [link for link in links if "//" in link], "docs must not load from a CDN"
    return links


async def test_docs_load_only_local_assets_that_exist(client: httpx.AsyncClient) -> None:
    links = await local_links(client, "/docs")
    assert "/openapi.json" in links
    for link in links:
        assert (await client.get(link)).status_code == 200, link


async def test_openapi_documents_the_items_resource(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/items", "/items/{item_id}", "/items/export", "/items/stats"} <= set(spec["paths"])
    assert "Item" in spec["components"]["schemas"]
    item_get = spec["paths"]["/items/{item_id}"]["get"]["responses"]["200"]
    assert item_get["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }


async def test_docs_behind_a_path_prefix(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"root_path": "/api"})) as prefixed:
        links = await local_links(prefixed.client, "/api/docs")
        assert "/api/openapi.json" in links
        for link in links:
            assert link.startswith("/api/")
            assert (await prefixed.client.get(link)).status_code == 200, link
