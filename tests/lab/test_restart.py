"""Every lab host restarted at once comes back as it was, with no Ansible run: booted with no
failed unit, every service running again, its tuned sysctls live (the image applies the net.*
keys of /etc/sysctl.d at boot), and requests through nginx answered, the database's included."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from boot_checks import active_services, assert_back_as_before

from lab import HTTP, request

# Seconds for the app instances to pass their readiness checks after the hosts came back.
SERVING_TIMEOUT = 90


def test_every_host_comes_back_tuned_and_serving(lab_hosts: dict[str, Any]) -> None:
    status, body = request(HTTP + "/items", "POST", {"name": "before-restart", "price": "3.00"})
    assert status == 201, body
    item_id = json.loads(body)["id"]
    before = {name: active_services(host) for name, host in lab_hosts.items()}

    subprocess.run(["docker", "restart", *lab_hosts], check=True, capture_output=True, timeout=300)

    for name, host in lab_hosts.items():
        assert_back_as_before(host, before[name])
    deadline = time.monotonic() + SERVING_TIMEOUT
    answers: list[int] = []
    while time.monotonic() < deadline:
        answers = [request(HTTP + path)[0] for path in ("/healthz", f"/items/{item_id}")]
        if answers == [200, 200]:
            break
        time.sleep(1)
    assert answers == [200, 200], f"/healthz and /items/{item_id} answered {answers}"
