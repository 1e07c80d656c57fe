"""Who reaches Redis: the app host and no one else, through the firewall role's table alone.

The shared matrix (resources/reachability.py), tried from every host and from the controller:
the client in group app connects to both cache hosts; each cache host's SYN to the other and the
controller's are dropped (timed out), which a missing listener could not fake.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import expected_matrix, failures, host_addresses, hosts, role_default, summary

GROUPS = {
    "hiload-mol-redis-12": {"cache"},
    "hiload-mol-redis-13": {"cache"},
    "hiload-mol-redis-client": {"app"},
}
CACHE_HOSTS = sorted(name for name, groups in GROUPS.items() if "cache" in groups)
REDIS_PORT = role_default("redis", "redis_port")


def test_only_the_app_host_reaches_redis() -> None:
    found = hosts(GROUPS)
    addresses = host_addresses(found)
    expectations = expected_matrix(
        groups=GROUPS,
        ports={"redis": [REDIS_PORT]},
        admins=set(),
        probes={name: [REDIS_PORT] for name in CACHE_HOSTS},
        sources=found,
    )
    policy = summary(expectations)
    # The policy itself, so that a matrix expecting nothing open (or everything) cannot pass.
    opened = {(e.source, e.target) for e in expectations if e.open}
    assert opened == {("hiload-mol-redis-client", name) for name in CACHE_HOSTS}, policy
    wrong = failures(expectations, found, addresses)
    assert not wrong, "\n".join(wrong) + "\n\nThe policy:\n" + policy
