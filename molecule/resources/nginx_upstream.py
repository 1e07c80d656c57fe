"""nginx's upstream servers as nginx itself loaded them (`nginx -T`): one reader for the tests of
the nginx scenario, the five-node stack and its fault tests."""

from __future__ import annotations

import re

from testinfra.host import Host

# A server line of an upstream block: "server 10.0.0.21:8001 max_fails=3 fail_timeout=10s down;".
# A server {} block has no address:port after the word, a server_name no space.
SERVER = re.compile(r"^\s*server (\S+:\d+)([^;]*);", re.M)


def upstream_servers(lb: Host) -> dict[str, bool]:
    """{"address:port": down} of every server in LB's live configuration, in its order."""
    config = lb.check_output("nginx -T 2>/dev/null")
    return {server: "down" in options.split() for server, options in SERVER.findall(config)}
