"""nginx on the lb hosts: valid config, upstream keepalive pool, limits, static files."""

import json
import re
import sys
from pathlib import Path

from conftest import STUB_PORTS, probe, probe_command, stub_address, stub_stats, worker_pids
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from nginx_upstream import upstream_servers

testinfra_hosts = ["lb"]

BASE = "http://127.0.0.1"


def full_config(host: Host) -> str:
    return host.check_output("nginx -T 2>/dev/null")


def test_configuration_passes_nginx_t(host: Host) -> None:
    assert host.run("nginx -t").rc == 0


def test_default_site_is_removed(host: Host) -> None:
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert "sites-enabled" not in full_config(host)


def test_upstream_lists_every_instance(host: Host) -> None:
    address = stub_address(host)
    assert upstream_servers(host) == {
        f"{address}:8001": False,
        f"{address}:8002": False,
        f"{address}:8003": True,
    }


def test_every_proxying_location_keeps_upstream_connections(host: Host) -> None:
    config = full_config(host)
    locations = re.findall(r"location [^{]*\{([^}]*)\}", config)
    proxying = [body for body in locations if "proxy_pass" in body]
    assert proxying
    for body in proxying:
        assert "proxy_http_version 1.1;" in body
        assert 'proxy_set_header Connection "";' in body
    assert "keepalive 64;" in config


def test_upstream_connections_are_reused(host: Host) -> None:
    before = stub_stats(host)
    result = probe(host, f"{BASE}/reuse", "--requests", "4000", "--threads", "4")
    after = stub_stats(host)
    assert result["statuses"] == {"200": 4000}, result
    opened = sum(after[p]["connections"] - before[p]["connections"] for p in STUB_PORTS)
    served = sum(after[p]["requests"] - before[p]["requests"] for p in STUB_PORTS)
    ports = " or ".join(f"dport = :{port}" for port in STUB_PORTS)
    established = host.check_output(f"ss -Htn state established '( {ports} )' | wc -l")
    pool = 64 * len(worker_pids(host))
    assert served == 4000
    assert opened <= pool, f"{opened} upstream connections opened for 4000 requests"
    assert int(established) <= pool


def test_requests_go_to_the_instance_with_fewest_in_flight(host: Host) -> None:
    """least_conn: while one instance holds a slow request, every new request goes to the
    other (in turn, half of them would queue behind the slow one)."""
    before = stub_stats(host)
    slow = probe_command(f"{BASE}/slow", "--once")
    quick = probe_command(f"{BASE}/echo", "--requests", "20")
    host.check_output(f"{slow} >/dev/null & sleep 1; {quick} >/dev/null; wait")
    after = stub_stats(host)
    served = sorted(after[p]["requests"] - before[p]["requests"] for p in STUB_PORTS)
    assert served == [1, 20], f"requests per instance: {served}"


def test_upstream_sees_http11_and_forwarded_headers(host: Host) -> None:
    echo = json.loads(probe(host, f"{BASE}/echo", "--once")["body"])
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert echo["version"] == "HTTP/1.1"
    assert headers.get("connection", "") == ""
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "127.0.0.1"


def test_server_version_is_hidden(host: Host) -> None:
    assert probe(host, f"{BASE}/echo", "--once")["headers"]["server"] == "nginx"


def test_json_is_gzipped_above_the_minimum_length(host: Host) -> None:
    gzip = ("--once", "--header", "Accept-Encoding:gzip")
    assert probe(host, f"{BASE}/echo", *gzip)["headers"].get("content-encoding") == "gzip"
    small = probe(host, f"{BASE}/static/hello.txt", *gzip)
    assert "content-encoding" not in small["headers"]


def test_static_file_never_reaches_the_upstream(host: Host) -> None:
    before = stub_stats(host)
    response = probe(host, f"{BASE}/static/hello.txt", "--once")
    after = stub_stats(host)
    assert response["status"] == 200
    assert response["body"] == "static hello\n"
    assert "max-age=2592000" in response["headers"]["cache-control"]
    assert "public" in response["headers"]["cache-control"]
    assert all(after[p]["requests"] == before[p]["requests"] for p in STUB_PORTS)


def test_static_source_is_published_beside_the_files_put_there_on_the_host(host: Host) -> None:
    page = host.file("/var/www/hiload/static/docs/page.txt")
    assert page.user == "root"
    assert page.mode == 0o644
    assert host.file("/var/www/hiload/static/docs").mode == 0o755
    response = probe(host, f"{BASE}/static/docs/page.txt", "--once")
    assert response["status"] == 200
    assert response["body"] == "published from the controller\n"
    assert probe(host, f"{BASE}/static/hello.txt", "--once")["body"] == "static hello\n"


def test_body_over_the_limit_is_refused_with_413(host: Host) -> None:
    small = ("--once", "--method", "POST", "--body-bytes", "1024")
    large = ("--once", "--method", "POST", "--body-bytes", str(128 * 1024))
    assert probe(host, f"{BASE}/upload", *small)["status"] == 200
    assert probe(host, f"{BASE}/upload", *large)["status"] == 413


def test_access_log_is_json_with_upstream_timing(host: Host) -> None:
    probe(host, f"{BASE}/logged", "--once")
    lines = host.file("/var/log/nginx/access.log").content_string.splitlines()
    entry = json.loads(next(line for line in reversed(lines) if '"/logged"' in line))
    assert re.fullmatch(r"[\d.]+:800[12]", entry["upstream_addr"])
    assert float(entry["upstream_response_time"]) >= 0


def test_stub_status_answers_on_localhost_only(host: Host) -> None:
    response = probe(host, "http://127.0.0.1:8081/nginx_status", "--once")
    assert response["status"] == 200
    assert "Active connections" in response["body"]
    listening = host.check_output("ss -Hltn '( sport = :8081 )'").split()
    assert "127.0.0.1:8081" in listening
    assert len(host.check_output("ss -Hltn '( sport = :8081 )'").splitlines()) == 1


def test_listen_socket_per_worker_with_the_backlog(host: Host) -> None:
    sockets = host.check_output("ss -Hltn '( sport = :80 )'").splitlines()
    # reuseport gives every worker its own listening socket; Send-Q is the effective backlog.
    assert len(sockets) == len(worker_pids(host))
    assert all(line.split()[2] == "1024" for line in sockets), sockets


def test_open_files_limit_is_what_the_host_grants_and_reaches_master_and_workers(
    host: Host,
) -> None:
    # Left unset in molecule.yml: derived from the host. In a container PID 1 may not raise its
    # hard limit (the engine's cap, about 20,000), so that is nginx's, below the default 65535.
    granted = re.search(
        r"^Max open files\s+\S+\s+(\d+)", host.file("/proc/1/limits").content_string, re.M
    )
    assert granted is not None
    limit = min(65535, int(granted[1]))
    master = host.file("/run/nginx.pid").content_string.strip()
    for pid in [master, *worker_pids(host)]:
        limits = host.file(f"/proc/{pid}/limits").content_string
        assert re.search(rf"^Max open files\s+{limit}\s+{limit}", limits, re.M), (pid, limits)
    config = host.file("/etc/nginx/nginx.conf").content_string
    assert f"worker_rlimit_nofile {limit};" in config
    assert f"worker_connections {min(8192, limit // 2)};" in config
    # Asked for no more than it may have: no worker failed to raise its limit.
    assert "setrlimit" not in host.file("/var/log/nginx/error.log").content_string


def test_reload_keeps_serving(host: Host) -> None:
    master = host.file("/run/nginx.pid").content_string.strip()
    workers = set(worker_pids(host))
    result = probe(
        host,
        f"{BASE}/during-reload",
        *("--mixed", "--requests", "400", "--threads", "4", "--pace", "0.01"),
        *("--reload-after", "0.5"),
    )
    # Fresh connections and kept-alive ones alike: the old workers close the idle kept-alive
    # connections, and a GET caught in that race is retried once, as HTTP clients do.
    assert result["statuses"] == {"200": 400}, result
    assert result["error_count"] == 0, result
    assert result["kept_alive"] >= 100, result
    assert host.file("/run/nginx.pid").content_string.strip() == master
    assert not workers & set(worker_pids(host)), "the reload did not replace the workers"
