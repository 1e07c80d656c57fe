"""Every host of the stack restarted at once comes back as it was with no Ansible run: booted
with no failed unit, every service running again, its tuned sysctls live, and requests through
nginx answered, the database's included."""

from __future__ import annotations

from boot_checks import active_services, assert_back_as_before
from stack import Stack, docker, wait_until


def test_every_host_comes_back_tuned_and_serving(stack: Stack, item_ids: list[int]) -> None:
    names = sorted({name for hosts in stack.groups.values() for name in hosts})
    before = {name: active_services(stack.host(name)) for name in names}

    docker("restart", *names, timeout=300)

    for name in names:
        assert_back_as_before(stack.host(name), before[name])

    def serving() -> bool:
        """nginx answers /healthz and an item read from PostgreSQL"""
        return [stack.get(path)[0] for path in ("/healthz", f"/items/{item_ids[0]}")] == [200, 200]

    wait_until(serving, timeout=90, interval=1)
