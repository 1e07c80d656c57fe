"""The firewall's fallback ports are the owning roles' defaults, so neither can drift alone."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import ROLES, role_default

# "<variable> | default(<number>)": another role's variable, with the value it has there.
FALLBACK = re.compile(r"(?P<name>[a-z]+_[a-z_]+) \| default\((?P<value>\d+)\)")
OWNERS = {
    "nginx_listen_port": "nginx",
    "nginx_tls_port": "nginx",
    "postgresql_port": "postgresql",
    "redis_port": "redis",
    "monitoring_port": "monitoring",
    "alertmanager_port": "alertmanager",
    "exporters_node_port": "exporters",
    "exporters_nginx_port": "exporters",
    "exporters_postgres_port": "exporters",
    "exporters_redis_port": "exporters",
    "exporters_pgbouncer_port": "exporters",
    "etcd_client_port": "etcd",
    "etcd_peer_port": "etcd",
    "patroni_restapi_port": "patroni",
    "haproxy_metrics_port": "haproxy",
    "backup_tls_port": "backup",
}


def test_fallbacks_equal_the_owning_roles_defaults() -> None:
    text = (ROLES / "firewall" / "defaults" / "main.yml").read_text()
    fallbacks = {m["name"]: int(m["value"]) for m in FALLBACK.finditer(text)}
    fallbacks.pop("ansible_port", None)
    assert set(fallbacks) == set(OWNERS), fallbacks
    for name, value in fallbacks.items():
        assert role_default(OWNERS[name], name) == value, name
