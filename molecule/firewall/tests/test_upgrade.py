"""A host the redis role firewalled itself (earlier releases) loses that table on the next run.

Earlier releases had the redis role load `inet hiload_redis` from its own rules file with its own
oneshot unit. This lays both down on the cache host as such a release left them, with an
allow-list gone stale (an address no host has), proves that table drops the app host, and runs
the role again: the table, the unit and the file are gone, and the app host reaches Redis through
the role's own opening while the controller stays dropped.
"""

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import scenario_host
from playbooks import assert_clean, run_playbook, scenario_playbook, write_playbook
from reachability import probe, role_default

HOST = "hiload-mol-fw-db"
CLIENT = "hiload-mol-fw-app"
PORT = role_default("redis", "redis_port")
SERVICE = "hiload-redis-firewall"
RULES = "/etc/nftables.d/hiload-redis.nft"
UNIT = f"/etc/systemd/system/{SERVICE}.service"
# What the redis role's template rendered, allowing one client that is no longer there.
EARLIER_RULES = f"""\
table inet hiload_redis
delete table inet hiload_redis

table inet hiload_redis {{
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "lo" tcp dport {PORT} accept
        ip saddr {{ 192.0.2.10 }} tcp dport {PORT} accept
        tcp dport {PORT} drop
    }}
}}
"""
EARLIER_UNIT = f"""\
[Unit]
Description=Let only the allowed clients reach Redis (nftables table hiload_redis)
Wants=network-pre.target
Before=network-pre.target redis-server.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f {RULES}
ExecStop=/usr/sbin/nft delete table inet hiload_redis

[Install]
WantedBy=multi-user.target
"""


def earlier_release(directory: Path) -> Path:
    tasks = [
        {
            "name": "Write the redis role's former rules",
            "ansible.builtin.copy": {"dest": RULES, "content": EARLIER_RULES, "mode": "0644"},
        },
        {
            "name": "Write the redis role's former unit",
            "ansible.builtin.copy": {"dest": UNIT, "content": EARLIER_UNIT, "mode": "0644"},
        },
        {
            "name": "Load the table now and at boot, as the redis role did",
            "ansible.builtin.systemd_service": {
                "name": SERVICE,
                "state": "started",
                "enabled": True,
                "daemon_reload": True,
            },
        },
    ]
    play = [
        {"name": "Leave an earlier release", "hosts": HOST, "gather_facts": False, "tasks": tasks}
    ]
    return write_playbook(directory, yaml.safe_dump(play, sort_keys=False))


def test_upgrade_removes_the_redis_role_table_unit_and_rules(tmp_path: Path) -> None:
    host, client = scenario_host(HOST), scenario_host(CLIENT)
    target = [(host.check_output("hostname -I").split()[0], PORT)]

    assert_clean(run_playbook(earlier_release(tmp_path)))
    assert "inet hiload_redis" in host.check_output("nft list tables")
    assert probe(client, target) == ["dropped"], "the stale table should drop the app host"

    assert_clean(run_playbook(scenario_playbook(), "--tags", "firewall"))
    assert "inet hiload_redis" not in host.check_output("nft list tables")
    assert not host.file(RULES).exists
    assert not host.file(UNIT).exists
    assert host.run(f"systemctl is-enabled {SERVICE}").rc != 0
    assert probe(client, target) == ["open"]
    assert probe(None, target) == ["dropped"]
