"""The notes app, deployed by site.yml from inventory variables alone: what a client sees through
nginx (readiness, a note written with the token and read back, the greeting the inventory set,
the static file nginx serves, both app hosts answering), what runs on each app host, and the
app's own database at the head of its own migrations.

Runs before test_rolling.py (file order), which leaves the schema one migration further on."""

import json
import uuid

import pytest
from conftest import (
    APP_HOSTS,
    ENVIRONMENT_FILE,
    LB,
    add_note,
    address,
    ask,
    head_revision,
    notes_project,
    psql,
    setting,
)
from inventory import scenario_host
from reachability import role_default
from testinfra.host import Host

testinfra_hosts = ["app"]

INSTANCES = range(1, setting("hiload_app_instances", APP_HOSTS[-1]) + 1)


def access_log_entries(marker: str) -> list[dict[str, object]]:
    """The lb's access log lines (JSON, the nginx role's hiload_json format) of requests whose
    URI holds MARKER."""
    lines = scenario_host(LB).check_output("grep -F %s /var/log/nginx/access.log", marker)
    return [json.loads(line) for line in lines.splitlines()]


def test_ready_through_nginx() -> None:
    status, _, body = ask(setting("hiload_app_ready_path"))
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}


def test_a_note_written_with_the_token_is_read_back() -> None:
    title = f"own-app-{uuid.uuid4().hex[:12]}"
    note = add_note(title)
    status, _, body = ask(f"/notes/{note['id']}")
    assert status == 200, body
    assert json.loads(body) == note
    assert note["title"] == title


def test_a_write_without_the_token_is_refused() -> None:
    status, headers, _ = ask("/notes", "POST", {"title": "no token"})
    assert status == 401
    # Header names are case-insensitive; Starlette sends them in lower case and nginx passes
    # them on as they came.
    assert {name.lower(): value for name, value in headers.items()}["www-authenticate"] == "Bearer"


def test_the_greeting_is_the_inventorys() -> None:
    status, _, body = ask("/greeting")
    assert status == 200, body
    assert json.loads(body)["greeting"] == setting("hiload_app_environment")["NOTES_GREETING"]


def test_nginx_serves_the_static_file_from_disk() -> None:
    marker = uuid.uuid4().hex
    status, headers, body = ask(f"{setting('hiload_app_static_prefix')}hello.txt?probe={marker}")
    assert status == 200
    assert body == (notes_project() / "static" / "hello.txt").read_bytes()
    # Set by nginx's static location only: the app serves no file.
    max_age = role_default("nginx", "nginx_static_max_age")
    assert headers.get("Cache-Control") == f"public, max-age={max_age}"
    (entry,) = access_log_entries(marker)
    assert entry["upstream_addr"] in ("", "-"), f"nginx passed the request on: {entry}"


def test_every_app_host_answers_through_nginx() -> None:
    marker = uuid.uuid4().hex
    for _ in range(16):
        assert ask(f"/version?probe={marker}")[0] == 200
    answered = {
        upstream.rsplit(":", 1)[0]
        for entry in access_log_entries(marker)
        for upstream in str(entry["upstream_addr"]).split(", ")
    }
    assert answered == {address(name) for name in APP_HOSTS}


@pytest.mark.parametrize("index", INSTANCES)
def test_the_instance_runs_the_apps_factory(host: Host, index: int) -> None:
    pid = host.check_output(f"systemctl show --property MainPID --value hiload@{index}")
    assert pid not in ("", "0"), f"hiload@{index} does not run"
    command = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    target = setting("hiload_app_asgi_app")
    assert target in command, command
    assert command[command.index(target) + 1] == "--factory", command


def test_the_environment_file_holds_the_apps_settings_only(host: Host) -> None:
    settings = {}
    for line in host.file(ENVIRONMENT_FILE).content_string.splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            settings[name] = value.strip('"')
    assert set(settings) == {
        *setting("hiload_app_environment"),
        *setting("hiload_app_secret_environment"),
        *setting("hiload_app_database_env"),
    }
    url = settings["DATABASE_URL"]
    scheme, user, name = (
        setting("hiload_app_database_url_scheme"),
        setting("hiload_app_database_user"),
        setting("hiload_app_database_name"),
    )
    assert url.startswith(f"{scheme}://{user}:"), "DATABASE_URL names another scheme or login"
    assert url.endswith(f"/{name}"), "DATABASE_URL names another database"


def test_the_apps_database_is_at_the_head_of_its_migrations() -> None:
    database = setting("postgresql_app_database")
    assert psql("SELECT version_num FROM alembic_version", database) == head_revision(
        notes_project()
    )
    owners = psql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database ORDER BY 1")
    assert f"{database}|{setting('postgresql_app_user')}" in owners.splitlines()
    # The bundled service's database is nowhere: the app's replaced it, not joined it.
    assert "hiload" not in {line.split("|")[0] for line in owners.splitlines()}


def test_every_app_host_is_connected_as_the_apps_login() -> None:
    sessions = psql(
        "SELECT DISTINCT usename, datname, host(client_addr) FROM pg_stat_activity"
        " WHERE application_name = 'notes'"
    )
    assert set(sessions.splitlines()) == {
        f"{setting('postgresql_app_user')}|{setting('postgresql_app_database')}|{address(name)}"
        for name in APP_HOSTS
    }
