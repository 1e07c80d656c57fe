"""The PostgreSQL exporter's login role is a pg_monitor member and nothing more."""

testinfra_hosts = ["hiload-mol-monitoring-13"]


def psql(host, sql):
    return host.check_output("runuser -u postgres -- psql -XAtc %s", sql)


def test_monitor_role_is_least_privilege(host):
    flags = psql(
        host,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles "
        "WHERE rolname = 'prometheus'",
    )
    assert flags == "f|f|f|f"
    groups = psql(
        host,
        "SELECT b.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
        "JOIN pg_roles b ON b.oid = m.roleid WHERE r.rolname = 'prometheus'",
    )
    assert groups.split() == ["pg_monitor"]


def test_dsn_file_is_readable_by_the_exporter_only(host):
    env = host.file("/etc/default/prometheus-postgres-exporter")
    assert env.mode == 0o640
    assert (env.user, env.group) == ("root", "prometheus")
