"""Secrets never leak, on the stack that deploys every one of them: the PostgreSQL, Redis and
exporter passwords, the TLS keys the hosts serve with, and the CA's key.

Molecule's converge ran at -vvv on fresh hosts, where every task that writes a secret runs, and
Ansible logged it whole (molecule.yml: ANSIBLE_LOG_PATH, read here as HILOAD_PLAYBOOK_LOG). No
secret is in that log, nor in any file of a host but the ones that must hold it, owned and moded
as they must be. secret_without_no_log.yml, a task that writes a secret as no role may, proves
that both checks find a secret left in the open.
"""

import os
import sys
from functools import cache
from itertools import pairwise
from pathlib import Path

from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from inventory import inventory_groups, scenario_host
from playbooks import LoggedRun, assert_clean, logged_runs, recap, run_playbook, scenario_playbook
from reachability import role_default
from secret_checks import Holder, holders, inventory_passwords, leaks, misplaced, private_key

testinfra_hosts = ["all"]

# The inventory's secrets, by name: a new one must be given its place below.
PASSWORDS = {
    "postgresql_app_password",
    "hiload_app_database_password",
    "exporters_postgres_password",
    "redis_app_password",
    "redis_monitor_password",
    "exporters_redis_password",
}
# The key each group's service serves with, where the pki role installs it.
KEYS = {
    "db": role_default("postgresql", "postgresql_tls_certificate_key"),
    "lb": role_default("nginx", "nginx_tls_certificate_key"),
}
ENVIRONMENT_FILE = "/etc/hiload/hiload.env"
EXPORTER_FLAGS = "/etc/default/prometheus-{}-exporter"

# The failure proof: a secret lb hosts never hold, written there without no_log.
PROOF_PLAYBOOK = "secret_without_no_log.yml"
PROOF_HOST = "hiload-mol-lb1"
PROOF_SECRET = "redis_app_password"
PROOF_FILE = "/etc/hiload-secret-proof.env"


def inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


@cache
def groups() -> dict[str, set[str]]:
    """{host: its groups} of the scenario's inventory."""
    found: dict[str, set[str]] = {}
    for group, members in inventory_groups(inventory()).items():
        for member in members:
            found.setdefault(member, set()).add(group)
    return found


def key_name(host: str, path: str) -> str:
    return f"TLS key {path} of {host}"


def controller_keys() -> list[Path]:
    """The keys the pki role keeps on the controller: its pki_dir is the inventory's secrets/pki."""
    return sorted(Path(inventory()).parent.rglob("*.key"))


@cache
def secrets() -> dict[str, tuple[str, ...]]:
    """The inventory's passwords; the key each host serves with, read from the host; and every
    other key the pki role keeps on the controller (pki_dir, under the inventory): the CA's."""
    passwords = inventory_passwords(inventory())
    assert set(passwords) == PASSWORDS, f"give every secret its place here: {sorted(passwords)}"
    served = {
        key_name(host, path): private_key(scenario_host(host).file(path).content_string)
        for host, its_groups in sorted(groups().items())
        for group, path in KEYS.items()
        if group in its_groups
    }
    kept = {
        f"{path} on the controller": private_key(path.read_text()) for path in controller_keys()
    }
    assert set(served.values()) <= set(kept.values()), "a host serves a key the CA did not issue"
    unserved = {name: key for name, key in kept.items() if key not in served.values()}
    assert unserved, f"no CA key beside the hosts' on the controller: {sorted(kept)}"
    return passwords | served | unserved


def expected_holders(host: str) -> list[Holder]:
    """The files of HOST that must hold secrets, by the groups it is in."""
    its_groups = groups()[host]
    expected = []
    if "app" in its_groups:
        expected.append(
            Holder(
                ENVIRONMENT_FILE,
                "root",
                role_default("hiload_app", "hiload_app_group"),
                0o640,
                frozenset({"hiload_app_database_password", "redis_app_password"}),
            )
        )
    for group, exporter, password in (
        ("db", "postgres", "exporters_postgres_password"),
        ("cache", "redis", "exporters_redis_password"),
    ):
        if group in its_groups:
            flags = EXPORTER_FLAGS.format(exporter)
            expected.append(Holder(flags, "root", "prometheus", 0o640, frozenset({password})))
    key_group = role_default("pki", "pki_key_group")
    for group, path in KEYS.items():
        if group in its_groups:
            secret = frozenset({key_name(host, path)})
            expected.append(Holder(path, "root", key_group, 0o640, secret))
    return expected


def playbook_log() -> str:
    path = Path(os.environ["HILOAD_PLAYBOOK_LOG"])
    assert path.is_file(), f"no {path}: see ANSIBLE_LOG_PATH in molecule.yml"
    return path.read_text()


def fresh_converge(runs: list[LoggedRun]) -> LoggedRun:
    """The converge that followed the hosts' creation (the last one, after a rerun)."""
    for before, run in reversed(list(pairwise(runs))):
        if (before.playbook, run.playbook) == ("create.yml", "converge.yml"):
            return run
    raise AssertionError(f"no converge.yml right after create.yml in {[r.playbook for r in runs]}")


def test_the_log_holds_the_verbose_converge_of_fresh_hosts() -> None:
    run = fresh_converge(logged_runs(playbook_log()))
    hosts = sorted(groups())
    quiet = [host for host in hosts if f"<{host}> ESTABLISH" not in run.output]
    assert not quiet, f"the converge did not log {quiet} at -vvv: see molecule.yml"
    # Fresh hosts: the converge changed every one, so the tasks that write secrets ran.
    counts = recap(run.output)
    unchanged = [host for host in hosts if not counts.get(host, {}).get("changed")]
    assert not unchanged, f"the logged converge changed nothing on {unchanged}: {counts}"


def test_no_run_of_the_scenario_logged_a_secret() -> None:
    # Create, converge, idempotence: every run Molecule made logged here, at -vvv.
    leaked = leaks(playbook_log(), secrets())
    assert not leaked, f"ansible-playbook -vvv showed {sorted(leaked)}"


def test_the_controllers_keys_are_its_users_alone() -> None:
    keys = controller_keys()
    assert keys, f"no key beside {inventory()}: see pki_dir"
    shared = {
        str(key): f"{key.stat().st_mode & 0o777:04o}" for key in keys if key.stat().st_mode & 0o077
    }
    assert not shared, f"others may read the CA's or the hosts' keys: {shared}"


def test_secrets_are_only_where_they_must_be(host: Host) -> None:
    name = host.backend.get_hostname()
    problems = misplaced(host, holders(host, secrets()), expected_holders(name), secrets())
    assert not problems, f"{name}: " + "\n".join(problems)


def test_both_checks_find_a_secret_written_without_no_log(tmp_path: Path) -> None:
    host = scenario_host(PROOF_HOST)
    log = tmp_path / "ansible.log"
    try:
        run = run_playbook(
            scenario_playbook(PROOF_PLAYBOOK),
            "-vvv",
            "--limit",
            PROOF_HOST,
            extra_vars={"secret_proof_variable": PROOF_SECRET, "secret_proof_file": PROOF_FILE},
            # No module logs its arguments to lb1's journal: the secret would outlive the test.
            env={"ANSIBLE_LOG_PATH": str(log), "ANSIBLE_NO_TARGET_SYSLOG": "true"},
        )
        assert_clean(run)
        assert PROOF_SECRET in leaks(log.read_text(), secrets()), "the log check missed it"
        found = holders(host, secrets())
        assert PROOF_SECRET in found.get(PROOF_FILE, set()), f"the file search missed it: {found}"
        problems = misplaced(host, found, expected_holders(PROOF_HOST), secrets())
        assert any(problem.startswith(PROOF_FILE) for problem in problems), problems
    finally:
        host.run("rm -f %s", PROOF_FILE)
