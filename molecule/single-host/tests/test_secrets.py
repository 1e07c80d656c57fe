"""Secrets live only where they must, with every role on one Debian 13 host: the database
password in the service's settings, the exporter's in its flags, each file readable by its
service's group alone. molecule/default checks every secret, TLS keys and Redis's included, and
the converge's -vvv log."""

import os
import sys
from functools import cache
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from reachability import role_default
from secret_checks import Holder, holders, inventory_passwords, misplaced

testinfra_hosts = ["hiload-mol-single"]

# The inventory's secrets, by name: a new one must be given its place below.
PASSWORDS = {
    "postgresql_app_password",
    "hiload_app_database_password",
    "exporters_postgres_password",
}
EXPECTED = [
    Holder(
        "/etc/hiload/hiload.env",
        "root",
        role_default("hiload_app", "hiload_app_group"),
        0o640,
        frozenset({"hiload_app_database_password"}),
    ),
    Holder(
        "/etc/default/prometheus-postgres-exporter",
        "root",
        "prometheus",
        0o640,
        frozenset({"exporters_postgres_password"}),
    ),
]


@cache
def secrets() -> dict[str, tuple[str, ...]]:
    found = inventory_passwords(os.environ["MOLECULE_INVENTORY_FILE"])
    assert set(found) == PASSWORDS, f"give every secret its place here: {sorted(found)}"
    return found


def test_secrets_are_only_where_they_must_be(host: Host) -> None:
    problems = misplaced(host, holders(host, secrets()), EXPECTED, secrets())
    assert not problems, "\n".join(problems)
