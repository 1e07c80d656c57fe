"""From the one allowed (app) host: the ACL user gets in and may do what the service does,
anonymous and wrong passwords do not."""

import pytest
from testinfra.host import Host

testinfra_hosts = ["app"]

CACHE_HOSTS = ("hiload-mol-redis-12", "hiload-mol-redis-13")


def cli(host: Host, server: str, credentials: str, command: str):
    return host.run(f"timeout 5 redis-cli --no-auth-warning -h {server} {credentials} {command}")


@pytest.mark.parametrize("server", CACHE_HOSTS)
def test_app_user_reads_and_writes(host: Host, server: str) -> None:
    password = host.ansible.get_variables()["redis_app_password"]
    credentials = f"--user hiload --pass {password}"
    assert cli(host, server, credentials, "SET probe 1 EX 60").stdout.strip() == "OK"
    assert cli(host, server, credentials, "GET probe").stdout.strip() == "1"


@pytest.mark.parametrize("server", CACHE_HOSTS)
def test_app_user_may_follow_invalidations(host: Host, server: str) -> None:
    # What the service's near cache runs on its tracking connection (hiload_api.cache.invalidation).
    password = host.ansible.get_variables()["redis_app_password"]
    credentials = f"--user hiload --pass {password}"
    tracking = "CLIENT TRACKING ON BCAST PREFIX hiload:item:v1:"
    assert cli(host, server, credentials, tracking).stdout.strip() == "OK"
    subscribe = cli(host, server, credentials, "SUBSCRIBE __redis__:invalidate")
    assert "__redis__:invalidate" in subscribe.stdout, subscribe.stdout + subscribe.stderr


@pytest.mark.parametrize("server", CACHE_HOSTS)
def test_anonymous_and_wrong_password_are_refused(host: Host, server: str) -> None:
    assert "NOAUTH" in cli(host, server, "", "GET probe").stdout
    wrong = cli(host, server, "--user hiload --pass not-the-password", "GET probe")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr
