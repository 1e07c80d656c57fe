"""The app's secrets live only where they must: its token (hiload_app_secret_environment) and its
database password (in its DATABASE_URL) in the instances' environment file, root:hiload 0640, on
each app host, the exporter's password in its flags on the db host; and no run of the scenario
logged one (Molecule's runs at -vvv, molecule.yml)."""

import os
from functools import cache
from pathlib import Path

from conftest import ENVIRONMENT_FILE, setting
from inventory import inventory_groups
from reachability import role_default
from secret_checks import Holder, holders, inventory_passwords, leaks, misplaced
from testinfra.host import Host

testinfra_hosts = ["all"]

# The inventory's secrets, by name: a new one must be given its place below.
PASSWORDS = {
    "postgresql_app_password",
    "hiload_app_database_password",
    "exporters_postgres_password",
}
TOKEN = "NOTES_API_TOKEN"


@cache
def secrets() -> dict[str, tuple[str, ...]]:
    found = inventory_passwords(os.environ["MOLECULE_INVENTORY_FILE"])
    assert set(found) == PASSWORDS, f"give every secret its place here: {sorted(found)}"
    return {**found, TOKEN: (setting("hiload_app_secret_environment")[TOKEN],)}


def expected_holders(name: str) -> list[Holder]:
    """The files of host NAME that must hold secrets, by the groups it is in."""
    groups = inventory_groups(os.environ["MOLECULE_INVENTORY_FILE"])
    expected = []
    if name in groups["app"]:
        app_group = role_default("hiload_app", "hiload_app_group")
        secret = frozenset({"hiload_app_database_password", TOKEN})
        expected.append(Holder(ENVIRONMENT_FILE, "root", app_group, 0o640, secret))
    if name in groups["db"]:
        secret = frozenset({"exporters_postgres_password"})
        flags = "/etc/default/prometheus-postgres-exporter"
        expected.append(Holder(flags, "root", "prometheus", 0o640, secret))
    return expected


def test_secrets_are_only_where_they_must_be(host: Host) -> None:
    name = host.backend.get_hostname()
    problems = misplaced(host, holders(host, secrets()), expected_holders(name), secrets())
    assert not problems, f"{name}: " + "\n".join(problems)


def test_no_run_of_the_scenario_logged_a_secret() -> None:
    log = Path(os.environ["HILOAD_PLAYBOOK_LOG"])
    assert log.is_file(), f"no {log}: see ANSIBLE_LOG_PATH in molecule.yml"
    leaked = leaks(log.read_text(), secrets())
    assert not leaked, f"ansible-playbook -vvv showed {sorted(leaked)}"
