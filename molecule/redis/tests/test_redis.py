"""Redis on the cache hosts: private bind, protected mode, ACL user, LRU limit, no persistence."""

from testinfra.host import Host

testinfra_hosts = ["cache"]


def cli(host: Host, command: str, auth: bool = True):
    variables = host.ansible.get_variables()
    credentials = f"--user hiload --pass {variables['redis_app_password']} " if auth else ""
    return host.run(f"timeout 5 redis-cli --no-auth-warning -h 127.0.0.1 {credentials}{command}")


def config(host: Host, key: str) -> str:
    return cli(host, f"CONFIG GET {key}").stdout.splitlines()[1]


def test_listens_on_private_address_and_localhost_only(host: Host) -> None:
    address = next(a for a in host.interface.default().addresses if ":" not in a)
    listening = {line.split()[3] for line in host.check_output("ss -Hltn").splitlines()}
    redis = {socket for socket in listening if socket.endswith(":6379")}
    assert redis == {f"{address}:6379", "127.0.0.1:6379"}


def test_auth_is_required(host: Host) -> None:
    anonymous = cli(host, "PING", auth=False)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    assert cli(host, "PING").stdout.strip() == "PONG"


def test_dangerous_commands_are_denied_to_the_app_user(host: Host) -> None:
    assert "NOPERM" in cli(host, "FLUSHALL").stdout


def test_memory_limit_and_eviction_policy(host: Host) -> None:
    # The app user may not run CONFIG (dangerous): read the rendered file instead.
    conf = host.file("/etc/redis/redis.conf").content_string
    assert "\nmaxmemory 64mb\n" in conf
    assert "\nmaxmemory-policy allkeys-lru\n" in conf
    assert "\nprotected-mode yes\n" in conf
    info = cli(host, "INFO memory").stdout
    assert "maxmemory:67108864" in info
    assert "maxmemory_policy:allkeys-lru" in info


def test_nothing_is_persisted(host: Host) -> None:
    info = cli(host, "INFO persistence").stdout
    assert "aof_enabled:0" in info
    conf = host.file("/etc/redis/redis.conf").content_string
    assert '\nsave ""\n' in conf


def test_password_is_not_on_disk(host: Host) -> None:
    password = host.ansible.get_variables()["redis_app_password"]
    assert password not in host.file("/etc/redis/redis.conf").content_string
    assert host.file("/etc/redis/redis.conf").mode == 0o640


def test_the_firewall_role_alone_filters_the_port(host: Host) -> None:
    # Who reaches the port is test_reachability.py's; here, that no second table decides it.
    tables = host.check_output("nft list tables").splitlines()
    assert tables.count("table inet hiload_firewall") == 1, tables
    assert "table inet hiload_redis" not in tables, tables
    assert not host.file("/etc/nftables.d/hiload-redis.nft").exists
    assert not host.file("/etc/systemd/system/hiload-redis-firewall.service").exists
