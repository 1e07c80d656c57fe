"""From the one allowed (app) host: the password opens the service database, nothing else does."""

import pytest
from testinfra.host import Host

testinfra_hosts = ["app"]

DB_HOSTS = ("hiload-mol-postgresql-12", "hiload-mol-postgresql-13")


def psql(host: Host, server: str, password: str | None, database: str = "hiload"):
    env = f"PGPASSWORD={password} " if password is not None else ""
    return host.run(
        f"{env}psql -w -XtA -h {server} -U hiload -d {database} -c 'SELECT current_user'"
    )


@pytest.fixture
def password(host: Host) -> str:
    return host.ansible.get_variables()["postgresql_app_password"]


@pytest.mark.parametrize("server", DB_HOSTS)
def test_login_with_the_password_works(host: Host, server: str, password: str) -> None:
    result = psql(host, server, password)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "hiload"


@pytest.mark.parametrize("server", DB_HOSTS)
def test_login_without_a_password_fails(host: Host, server: str) -> None:
    result = psql(host, server, None)
    assert result.rc != 0
    assert "no password supplied" in result.stderr


@pytest.mark.parametrize("server", DB_HOSTS)
def test_login_with_a_wrong_password_fails(host: Host, server: str) -> None:
    result = psql(host, server, "not-the-password")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


@pytest.mark.parametrize("server", DB_HOSTS)
def test_other_databases_are_closed_to_the_app(host: Host, server: str, password: str) -> None:
    result = psql(host, server, password, database="postgres")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
