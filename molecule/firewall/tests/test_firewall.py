"""The role's table: default drop, applied by its own unit, beside tables it never touches."""

import json

import pytest
from testinfra.host import Host

TABLE = "hiload_firewall"
UNIT = "hiload-firewall.service"


def tables(host: Host) -> set[str]:
    listing = host.check_output("nft list tables")
    return {" ".join(line.split()[1:]) for line in listing.splitlines()}


def input_chain(host: Host) -> dict:
    ruleset = json.loads(host.check_output(f"nft -j list chain inet {TABLE} input"))
    return next(item["chain"] for item in ruleset["nftables"] if "chain" in item)


def test_input_chain_drops_by_default(host: Host) -> None:
    chain = input_chain(host)
    assert chain["hook"] == "input"
    assert chain["policy"] == "drop"


def test_other_tables_survive(host: Host) -> None:
    assert "inet fw_mol_foreign" in tables(host)
    # Docker's embedded DNS answers through its own NAT rules in the container: still resolving.
    assert host.run_expect([0], "getent hosts hiload-mol-fw-app").stdout.strip()


def test_unit_applies_the_rules_at_boot(host: Host) -> None:
    unit = host.service(UNIT)
    assert unit.is_enabled
    assert unit.is_running or unit.systemd_properties["ActiveState"] == "active"
    assert host.file("/etc/nftables.d/hiload-firewall.nft").mode == 0o644
    host.run_expect([0], "nft -c -f /etc/nftables.d/hiload-firewall.nft")


@pytest.mark.parametrize("action", ["reload", "stop-start"])
def test_unit_restores_the_table(host: Host, action: str) -> None:
    before = host.check_output(f"nft list table inet {TABLE}")
    if action == "reload":
        host.run_expect([0], f"systemctl reload {UNIT}")
    else:
        host.run_expect([0], f"systemctl stop {UNIT}")
        assert f"inet {TABLE}" not in tables(host)
        host.run_expect([0], f"systemctl start {UNIT}")
    assert host.check_output(f"nft list table inet {TABLE}") == before
    assert "inet fw_mol_foreign" in tables(host)
