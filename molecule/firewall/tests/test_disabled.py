"""firewall_enabled: false removes the role's table and unit, nothing else; true restores them."""

import os
import sys
from pathlib import Path

import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from playbooks import assert_clean, run_playbook, scenario_playbook
from reachability import probe, role_default

HOST = "hiload-mol-fw-db"


def test_disabling_removes_only_the_role_table_and_reenabling_restores_it() -> None:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    host = testinfra.get_host(f"ansible://{HOST}?ansible_inventory={inventory}")
    address = host.check_output("hostname -I").split()[0]
    port = role_default("postgresql", "postgresql_port")
    assert probe(None, [(address, port)]) == ["dropped"]

    # The extra rule's sources name another host, whose facts a --limit run does not gather.
    off = {"firewall_enabled": False, "firewall_extra_rules": []}
    assert_clean(run_playbook(scenario_playbook(), "--limit", HOST, extra_vars=off))
    tables = host.check_output("nft list tables")
    assert "hiload_firewall" not in tables
    assert "fw_mol_foreign" in tables
    assert not host.file("/etc/systemd/system/hiload-firewall.service").exists
    assert probe(None, [(address, port)]) == ["open"]

    assert_clean(run_playbook(scenario_playbook(), "--tags", "firewall"))
    assert "hiload_firewall" in host.check_output("nft list tables")
    assert probe(None, [(address, port)]) == ["dropped"]
