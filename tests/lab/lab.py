"""The lab as `make demo` left it, reached from the controller through the ports it publishes
on 127.0.0.1, and where it is: its inventory, its generated secrets."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
LAB = PROJECT / "inventories" / "lab"

HTTP = "http://127.0.0.1:8080"
# The lb's certificate names localhost, not the address (inventories/lab/group_vars/lb/tls.yml).
HTTPS = "https://localhost:8443"
PROMETHEUS = "http://127.0.0.1:9090"


def request(
    url: str,
    method: str = "GET",
    body: object | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    """One request, never raising on an HTTP error status."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    prepared = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
