"""Who reaches pgBackRest's TLS servers: the db host the repository's, the repository host the db
host's, and no one else (the controller's SYNs are dropped), through the firewall role's table;
the repository host is no PostgreSQL client."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from conftest import DB, REPOSITORY
from reachability import expected_matrix, failures, host_addresses, hosts, role_default, summary

GROUPS = {DB: {"db"}, REPOSITORY: {"backup"}}
BACKUP_PORT = role_default("backup", "backup_tls_port")
POSTGRESQL_PORT = role_default("postgresql", "postgresql_port")


def test_only_the_other_side_reaches_pgbackrest() -> None:
    found = hosts(GROUPS)
    addresses = host_addresses(found)
    expectations = expected_matrix(
        groups=GROUPS,
        ports={
            "pgbackrest-repository": [BACKUP_PORT],
            "pgbackrest": [BACKUP_PORT],
            "postgresql": [POSTGRESQL_PORT],
        },
        admins=set(),
        probes={DB: [BACKUP_PORT, POSTGRESQL_PORT], REPOSITORY: [BACKUP_PORT]},
        sources=found,
    )
    policy = summary(expectations)
    # The policy itself, so that a matrix expecting nothing open (or everything) cannot pass.
    opened = {(e.source, e.target, e.port) for e in expectations if e.open}
    assert opened == {(DB, REPOSITORY, BACKUP_PORT), (REPOSITORY, DB, BACKUP_PORT)}, policy
    wrong = failures(expectations, found, addresses)
    assert not wrong, "\n".join(wrong) + "\n\nThe policy:\n" + policy
