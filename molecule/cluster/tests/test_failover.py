"""The clustered tier under a steady mix of reads and writes through nginx: a planned
switchover fails no request, an unplanned one (the leader's container killed) loses no
acknowledged write, stores none in part and answers the gap with 503 + Retry-After, losing etcd
members moves no leader, and a lagging replica leaves the read pool while reads go on.

Run in this order after the topology and routing tests; each leaves a healthy cluster of three.
Figures go to reports/resilience-cluster.json."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from conftest import PROJECT, leaders, member, members, patronictl_list, psql, request_on
from loadgen import ItemApi, Outcome, SteadyLoad, stored_whole
from playbooks import run_playbook
from rolling import assert_no_failures, server_side_tails
from stack import Stack, docker, start_container, wait_until

# Reads that may go to a replica: the list. Item reads by id and writes go to the leader.
LIST_READS = ItemApi(item_path="/items?limit=20")
# Longer than nginx waits for an instance (nginx_proxy_read_timeout, 85 s in this scenario), so
# every answer is nginx's or the app's.
CLIENT_TIMEOUT = 95.0


@contextmanager
def mixed_load(stack: Stack, item_ids: list[int], prefix: str) -> Iterator[list[SteadyLoad]]:
    """By-id GETs and POSTs (the leader), and list GETs (the read pool), side by side."""
    with ExitStack() as running:
        loads = [
            running.enter_context(
                SteadyLoad(stack.lb_url, item_ids, 30.0, 4.0, prefix=prefix, timeout=CLIENT_TIMEOUT)
            ),
            running.enter_context(
                SteadyLoad(
                    stack.lb_url, item_ids, 10.0, 0.0, prefix, CLIENT_TIMEOUT, api=LIST_READS
                )
            ),
        ]
        yield loads


def main_pids(stack: Stack) -> dict[str, str]:
    return {
        name: stack.host(name).check_output("systemctl show -P MainPID hiload@1 hiload@2")
        for name in stack.groups["app"]
    }


def healthy(stack: Stack) -> bool:
    """Three members running on one timeline, one of them the leader"""
    states = members(stack)
    return (
        sorted(s["role"] for s in states.values()) == ["primary", "replica", "replica"]
        and {s["state"] for s in states.values()} <= {"running", "streaming"}
        and len({s.get("timeline") for s in states.values()}) == 1
    )


def patroni_timing(stack: Stack) -> dict[str, int]:
    """ttl and loop_wait as the cluster runs them (Patroni's shared settings in etcd)."""
    leader = leaders(stack)[0]
    config = json.loads(request_on(stack, leader, f"http://{stack.address(leader)}:8008/config")[1])
    return {"ttl": int(config["ttl"]), "loop_wait": int(config["loop_wait"])}


def longest(outcomes: list[Outcome]) -> float:
    return round(max((o.seconds for o in outcomes), default=0.0), 2)


def test_a_planned_switchover_fails_no_request(
    stack: Stack, item_ids: list[int], ledger: list[Outcome]
) -> None:
    wait_until(lambda: healthy(stack), timeout=180, interval=1)
    (before,) = leaders(stack)
    with mixed_load(stack, item_ids, "switchover") as loads:
        time.sleep(3)
        run = run_playbook(PROJECT / "playbooks" / "switchover.yml")
        time.sleep(3)
    assert run.returncode == 0, run.output[-3000:]
    (after,) = leaders(stack)
    assert after != before, f"{before} still leads"
    for load, what in zip(loads, ("by id and POST", "list"), strict=True):
        assert_no_failures(load, f"switchover ({what})", minimum=40, stack=stack)
    ledger.extend(o for o in loads[0].outcomes if o.method == "POST")
    wait_until(lambda: healthy(stack), timeout=120, interval=1)
    stack.record(
        switchover={
            "requests": sum(len(load.outcomes) for load in loads),
            "failed": 0,
            "longest_request_s": longest([o for load in loads for o in load.outcomes]),
            "from": before,
            "to": after,
        }
    )


def test_killing_the_leader_loses_no_acknowledged_write(
    stack: Stack, item_ids: list[int], ledger: list[Outcome], restore_container: list[str]
) -> None:
    wait_until(lambda: healthy(stack), timeout=180, interval=1)
    (old,) = leaders(stack)
    survivors = [name for name in stack.groups["db"] if name != old]
    pids = main_pids(stack)
    with mixed_load(stack, item_ids, "failover") as loads:
        time.sleep(3)
        docker("kill", old)
        restore_container.append(old)
        killed = time.monotonic()
        new_leader_s = wait_until(lambda: len(leaders(stack, survivors)) == 1, 120, 0.5)
        time.sleep(10)
    (new,) = leaders(stack, survivors)
    outcomes = [o for load in loads for o in load.outcomes]
    # Patroni's bound: the lock expires after ttl, and a member notices within a loop (polled
    # here every 0.5 s through docker exec, hence the margin).
    timing = patroni_timing(stack)
    assert new_leader_s <= timing["ttl"] + timing["loop_wait"] + 5, (new_leader_s, timing)
    posts = sorted((o for o in loads[0].outcomes if o.method == "POST"), key=lambda o: o.started)
    written_again = next(
        o.started + o.seconds for o in posts if o.started > killed and o.status == 201
    )
    ledger.extend(o for o in loads[0].outcomes if o.method == "POST")
    failed = [o for o in outcomes if not 200 <= o.status < 300]
    # The gap is answered, never with a 502 or a 500: 503 and a Retry-After.
    other = [(o.method, o.path, o.status, o.body[:200]) for o in failed if o.status != 503]
    assert not other, (
        f"{len(other)} answered other than 503: {other[:10]}\n{server_side_tails(stack)}"
    )
    assert all(o.headers.get("retry-after") for o in failed), "a 503 without Retry-After"
    assert main_pids(stack) == pids, "an app instance restarted"
    # Every acknowledged write is on the new leader (synchronous mode): checked with the rest
    # of the ledger by the last test. The old leader comes back as a replica by itself.
    start_container(old)
    restore_container.remove(old)
    rejoined_s = wait_until(lambda: healthy(stack), timeout=180, interval=1)
    assert member(stack, old)["role"] == "replica"
    stack.record(
        failover={
            "requests": len(outcomes),
            "refused_503": len(failed),
            "failed_posts": sum(o.method == "POST" for o in failed),
            "new_leader_s": round(new_leader_s, 1),
            "writes_again_s": round(written_again - killed, 1),
            "killed": old,
            "new_leader": new,
            "old_leader_rejoined_s": round(rejoined_s, 1),
            "since_kill_s": round(time.monotonic() - killed, 1),
        }
    )


def test_losing_etcd_members_moves_no_leader(
    stack: Stack, item_ids: list[int], ledger: list[Outcome]
) -> None:
    wait_until(lambda: healthy(stack), timeout=180, interval=1)
    (leader,) = leaders(stack)
    others = [name for name in stack.groups["etcd"] if name != leader]
    stopped: list[str] = []
    try:
        with mixed_load(stack, item_ids, "etcd") as loads:
            # One member of three lost: etcd keeps its quorum, Patroni notices nothing.
            stack.host(others[0]).check_output("systemctl stop etcd")
            stopped.append(others[0])
            time.sleep(8)
            assert leaders(stack) == [leader]
            # Two lost: no quorum, so no leader key can be renewed. In failsafe mode the leader
            # keeps running as primary while it reaches every member's REST API.
            stack.host(others[1]).check_output("systemctl stop etcd")
            stopped.append(others[1])
            time.sleep(25)
            assert leaders(stack) == [leader], members(stack)
    finally:
        for name in stopped:
            stack.host(name).check_output("systemctl start etcd")
    ledger.extend(o for o in loads[0].outcomes if o.method == "POST")
    for load, what in zip(loads, ("by id and POST", "list"), strict=True):
        assert_no_failures(load, f"etcd loss ({what})", minimum=40, stack=stack)
    wait_until(lambda: healthy(stack), timeout=120, interval=1)
    assert leaders(stack) == [leader]


@contextmanager
def wal_stream_held(stack: Stack, replica: str, leader: str) -> Iterator[None]:
    """The leader's WAL stream to REPLICA dropped on the way in, so the replica falls behind.
    pg_wal_replay_pause() cannot do it: Patroni (3.0+, PostgreSQL 14+) resumes a paused replay
    within a loop. The rule lives in a table of its own, removed whatever happens."""
    host = stack.host(replica)
    table = "inet hiload_lag_test"
    host.check_output("nft add table %s", table)
    try:
        host.check_output(
            "nft add chain %s input '{ type filter hook input priority -10; }'", table
        )
        host.check_output(
            "nft add rule %s input ip saddr %s tcp sport 5432 drop", table, stack.address(leader)
        )
        yield
    finally:
        host.check_output("nft delete table %s", table)


def test_a_lagging_replica_leaves_the_read_pool(stack: Stack, item_ids: list[int]) -> None:
    wait_until(lambda: healthy(stack), timeout=180, interval=1)
    rows = patronictl_list(stack, stack.groups["db"][0])
    (replica,) = [row["Member"] for row in rows if row["Role"] == "Replica"]
    (leader,) = leaders(stack)
    app = stack.groups["app"][0]
    stats_csv = f"http://{stack.address(app)}:8404/stats;csv"

    def in_read_pool() -> bool:
        """HAProxy's read backend counts the lagging replica UP"""
        csv = request_on(stack, app, stats_csv)[1]
        return any(
            line.split(",")[:2] == ["postgresql_read", replica] and line.split(",")[17] == "UP"
            for line in csv.splitlines()
        )

    assert in_read_pool()
    try:
        with mixed_load(stack, item_ids, "lag") as loads, wal_stream_held(stack, replica, leader):
            # More WAL than the bound (1 MiB) on the leader, which the replica never receives.
            psql(stack, leader, "CREATE TABLE lag_filler AS SELECT generate_series(1, 200000) AS n")
            behind = time.monotonic()
            left_s = wait_until(lambda: not in_read_pool(), timeout=60, interval=0.5)
            time.sleep(3)
    finally:
        psql(stack, leader, "DROP TABLE IF EXISTS lag_filler")
    assert_no_failures(loads[1], "replica lag (list)", minimum=20, stack=stack)
    back_s = wait_until(in_read_pool, timeout=120, interval=0.5)
    stack.record(
        replica_lag={
            "left_read_pool_s": round(left_s, 1),
            "back_in_read_pool_s": round(back_s, 1),
            "since_behind_s": round(time.monotonic() - behind, 1),
        }
    )


def test_every_acknowledged_write_is_on_the_leader(stack: Stack, ledger: list[Outcome]) -> None:
    assert ledger, "no POST was sent by the failover tests"
    (leader,) = leaders(stack)
    names = ",".join(f"'{o.name}'" for o in ledger)
    rows = psql(
        stack,
        leader,
        f"SELECT name, price, array_to_string(tags, ',') FROM items WHERE name IN ({names})",
    )
    stored = {name: fields for name, *fields in (row.split("|") for row in rows.splitlines())}
    acknowledged = [o.name for o in ledger if o.status == 201]
    missing = [name for name in acknowledged if name not in stored]
    assert not missing, f"{len(missing)} writes answered 201 are not on the leader: {missing[:10]}"
    # A POST that failed may have committed before its answer was lost, but never in part.
    partial = {name: fields for name, fields in stored.items() if not stored_whole(*fields)}
    assert not partial, f"{len(partial)} writes stored in part: {list(partial.items())[:5]}"
    stack.record(
        writes={
            "acknowledged": len(acknowledged),
            "lost": len(missing),
            "failed_but_stored": sum(o.status != 201 and o.name in stored for o in ledger),
        }
    )
