"""CORS is off unless HILOAD_CORS_ORIGINS names the origins a browser may call from."""

from __future__ import annotations

import httpx
import pytest

from hiload_api.config import Settings, SettingsError, load_settings
from tests.conftest import serve

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_without_origins_no_response_carries_cors_headers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.cors_origins == ()
    simple = await client.get("/healthz", headers={"Origin": ALLOWED})
    assert simple.status_code == 200
    assert cors_headers(simple) == {}
    preflight = await client.options("/items", headers=PREFLIGHT)
    assert preflight.status_code == 405
    assert cors_headers(preflight) == {}


async def test_configured_origins_only_are_allowed(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_origins": (ALLOWED,)})
    async with serve(configured) as served:
        allowed = await served.client.get("/healthz", headers={"Origin": ALLOWED})
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        assert "access-control-allow-credentials" not in allowed.headers
        other = await served.client.get("/healthz", headers={"Origin": OTHER})
        assert cors_headers(other) == {}
        preflight = await served.client.options("/items", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]
        refused = await served.client.options("/items", headers={**PREFLIGHT, "Origin": OTHER})
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


def test_origins_are_read_comma_separated(env: pytest.MonkeyPatch) -> None:
    env.setenv("HILOAD_CORS_ORIGINS", f" {ALLOWED}, http://[::1]:8080 ")
    assert load_settings().cors_origins == (ALLOWED, "http://[::1]:8080")
    env.setenv("HILOAD_CORS_ORIGINS", "")
    assert load_settings().cors_origins == ()


@pytest.mark.parametrize("origins", ["https://app.example.com/", "app.example.com", "https://a/b"])
def test_an_origin_with_a_path_or_no_scheme_is_refused(
    env: pytest.MonkeyPatch, origins: str
) -> None:
    env.setenv("HILOAD_CORS_ORIGINS", origins)
    with pytest.raises(SettingsError, match="HILOAD_CORS_ORIGINS is invalid"):
        load_settings()
