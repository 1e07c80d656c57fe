"""PostgreSQL listens privately, lets only the app host in by scram, and follows its variables."""

from testinfra.host import Host

testinfra_hosts = ["db"]

DB_HOSTS = ("hiload-mol-postgresql-12", "hiload-mol-postgresql-13")
VERSIONS = {"12": "15", "13": "17"}


def sql(host: Host, query: str) -> str:
    return host.check_output(f"runuser -u postgres -- psql -XtAc {query!r}").strip()


def test_release_version_runs(host: Host) -> None:
    major = host.system_info.release.split(".")[0]
    assert sql(host, "SHOW server_version").startswith(VERSIONS[major] + ".")


def test_max_connections_follows_the_variable(host: Host) -> None:
    expected = host.ansible.get_variables()["postgresql_max_connections"]
    assert sql(host, "SHOW max_connections") == str(expected)


def test_memory_settings_derive_from_the_host(host: Host) -> None:
    memtotal_mb = int(host.file("/proc/meminfo").content_string.split()[1]) // 1024
    blocks = "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = '{}'"
    assert int(sql(host, blocks.format("shared_buffers"))) == memtotal_mb // 4
    assert int(sql(host, blocks.format("effective_cache_size"))) == int(memtotal_mb * 0.75)


def test_listens_on_private_address_not_wildcard(host: Host) -> None:
    address = next(a for a in host.interface.default().addresses if ":" not in a)
    listening = host.check_output("ss -Hltn '( sport = :5432 )'")
    assert f"{address}:5432" in listening
    assert "127.0.0.1:5432" in listening
    assert "0.0.0.0:5432" not in listening
    assert "*:5432" not in listening


def test_password_stored_as_scram_verifier(host: Host) -> None:
    assert sql(host, "SHOW password_encryption") == "scram-sha-256"
    verifier = sql(host, "SELECT rolpassword FROM pg_authid WHERE rolname = 'hiload'")
    assert verifier.startswith("SCRAM-SHA-256$")


def tls_enabled(host: Host) -> bool:
    return bool(host.ansible.get_variables().get("postgresql_tls_enabled", False))


def test_no_trust_and_no_wildcard_network_rules(host: Host) -> None:
    rules = sql(
        host,
        "SELECT type, database, user_name, auth_method"
        " FROM pg_hba_file_rules WHERE type <> 'local'",
    ).splitlines()
    kind = "hostssl" if tls_enabled(host) else "host"
    assert rules, "no network rule at all: the app host could not log in"
    assert all(rule == f"{kind}|{{hiload}}|{{hiload}}|scram-sha-256" for rule in rules), rules


def test_tls_follows_the_variable(host: Host) -> None:
    if not tls_enabled(host):
        # Off, the role leaves Debian's own ssl setting alone.
        version = VERSIONS[host.system_info.release.split(".")[0]]
        drop_in = host.file(f"/etc/postgresql/{version}/main/conf.d/20-hiload-reload.conf")
        assert "ssl_cert_file" not in drop_in.content_string
        return
    assert sql(host, "SHOW ssl") == "on"
    assert sql(host, "SHOW ssl_cert_file") == "/etc/ssl/hiload/host.crt"
    assert sql(host, "SHOW ssl_min_protocol_version") == "TLSv1.2"
    key = host.file("/etc/ssl/hiload/host.key")
    assert (key.user, key.group, key.mode) == ("root", "ssl-cert", 0o640)


def test_other_db_host_is_refused_even_with_the_password(host: Host) -> None:
    me = host.check_output("hostname")
    peer = next(name for name in DB_HOSTS if name != me)
    password = host.ansible.get_variables()["postgresql_app_password"]
    result = host.run(
        f"PGPASSWORD={password} psql -w -XtA -h {peer} -U hiload -d hiload -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
