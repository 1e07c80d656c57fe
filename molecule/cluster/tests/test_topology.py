"""The clustered tier as site.yml leaves it: three etcd members, one Patroni leader with a
synchronous and an asynchronous replica on one timeline, and db1's single-server data adopted
(prepare.yml wrote a row there before the cluster existed), not an empty cluster beside it."""

from __future__ import annotations

import json

from conftest import members, patronictl_list, psql
from stack import Stack


def test_three_etcd_members_are_healthy(stack: Stack) -> None:
    for name in stack.groups["etcd"]:
        endpoint = f"http://{stack.address(name)}:2379"
        listing = json.loads(
            stack.host(name).check_output("etcdctl --endpoints=%s member list -w json", endpoint)
        )
        assert len(listing["members"]) == 3, listing
        # etcdctl reports health on stderr.
        health = stack.host(name).run("etcdctl --endpoints=%s endpoint health", endpoint)
        assert health.rc == 0, health.stderr
        assert "is healthy" in health.stdout + health.stderr, health


def test_one_leader_one_sync_standby_one_replica_on_one_timeline(stack: Stack) -> None:
    rows = patronictl_list(stack, stack.groups["db"][-1])
    roles = sorted(row["Role"] for row in rows)
    assert roles == ["Leader", "Replica", "Sync Standby"], rows
    assert {row["State"] for row in rows} <= {"running", "streaming"}, rows
    assert len({row["TL"] for row in rows}) == 1, rows
    # Each member says the same of itself.
    own = members(stack)
    assert sorted(status["role"] for status in own.values()) == ["primary", "replica", "replica"]


def test_the_single_servers_data_was_adopted_and_cloned(stack: Stack) -> None:
    for name in stack.groups["db"]:
        rows = psql(stack, name, "SELECT note FROM cluster_adoption")
        assert rows.splitlines() == ["from the single server"], (name, rows)


def test_patroni_alone_runs_postgresql(stack: Stack) -> None:
    for name in stack.groups["db"]:
        host = stack.host(name)
        version = host.check_output("ls /etc/postgresql").split()[0]
        assert host.service(f"patroni@{version}-main").is_running, name
        unit = f"postgresql@{version}-main"
        assert not host.service(unit).is_running, name
        assert host.run("systemctl is-enabled %s", unit).stdout.strip() == "masked", name
        # The single server's drop-ins are gone: Patroni writes postgresql.conf.
        dropins = host.check_output("find /etc/postgresql/%s/main -name '10-hiload-*'", version)
        assert not dropins, (name, dropins)
