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


TLS_SERVER = "hiload-mol-postgresql-13"
PLAIN_SERVER = "hiload-mol-postgresql-12"
CA = "/etc/ssl/hiload/ca.crt"


def psql_dsn(host: Host, dsn: str, password: str):
    query = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    return host.run(f"PGPASSWORD={password} psql -w -XtA {dsn!r} -c {query!r}")


@pytest.mark.parametrize("by", ["name", "address"])
def test_verify_full_connection_succeeds(host: Host, password: str, by: str) -> None:
    server = TLS_SERVER
    if by == "address":
        server = host.check_output(f"getent hosts {TLS_SERVER}").split()[0]
    dsn = f"host={server} dbname=hiload user=hiload sslmode=verify-full sslrootcert={CA}"
    result = psql_dsn(host, dsn, password)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() in ("t|TLSv1.2", "t|TLSv1.3"), result.stdout


def test_verify_full_refuses_a_server_the_ca_did_not_certify(host: Host, password: str) -> None:
    # The plain server has no certificate from the CA: Debian's snakeoil does not verify.
    dsn = f"host={PLAIN_SERVER} dbname=hiload user=hiload sslmode=verify-full sslrootcert={CA}"
    result = psql_dsn(host, dsn, password)
    assert result.rc != 0
    assert "certificate verify failed" in result.stderr, result.stderr


def test_non_tls_connection_is_refused_by_the_tls_server(host: Host, password: str) -> None:
    no_tls = "dbname=hiload user=hiload sslmode=disable"
    plain = psql_dsn(host, f"host={PLAIN_SERVER} {no_tls}", password)
    refused = psql_dsn(host, f"host={TLS_SERVER} {no_tls}", password)
    assert plain.rc == 0, plain.stderr
    assert refused.rc != 0
    assert "no pg_hba.conf entry" in refused.stderr, refused.stderr
    assert "no encryption" in refused.stderr, refused.stderr
