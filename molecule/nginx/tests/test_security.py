"""HTTPS from the pki role's CA, TLS 1.2+ only, security headers, header limits, the sandbox."""

import re
import shlex

import pytest
from conftest import CA, probe
from testinfra.host import Host

testinfra_hosts = ["lb"]

CERT = "/etc/ssl/hiload/host.crt"
KEY = "/etc/ssl/hiload/host.key"
AEAD_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def handshake(host: Host, *options: str, name: str | None = None) -> str:
    """openssl s_client against the HTTPS port; the output, whatever the handshake's outcome.

    SECLEVEL=0 lets the client offer what the server must refuse (TLS 1.0/1.1, CBC), so a
    refusal is the server's protocol alert, not the client's own policy.
    """
    server_name = name or host.check_output("hostname")
    command = (
        "openssl s_client -connect 127.0.0.1:443 -brief -verify_return_error"
        f" -CAfile {CA} -servername {server_name} -verify_hostname {server_name}"
        f" -cipher DEFAULT:@SECLEVEL=0 {' '.join(shlex.quote(o) for o in options)}"
    )
    return host.run(f"timeout 10 {command} </dev/null 2>&1").stdout


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused_by_the_server(host: Host, protocol: str) -> None:
    output = handshake(host, protocol)
    assert "alert protocol version" in output, output


def test_tls_1_2_negotiates_a_forward_secret_aead_cipher(host: Host) -> None:
    output = handshake(host, "-tls1_2")
    assert "Protocol version: TLSv1.2" in output, output
    cipher = re.search(r"Ciphersuite: (\S+)", output)
    assert cipher, output
    assert cipher[1] in AEAD_TLS12, output


def test_tls_1_2_refuses_cbc_ciphers(host: Host) -> None:
    output = handshake(host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
    assert "handshake failure" in output, output


def test_tls_1_3_is_accepted(host: Host) -> None:
    output = handshake(host, "-tls1_3")
    assert "Protocol version: TLSv1.3" in output, output
    assert "Verification: OK" in output, output


def test_chain_verifies_against_the_ca_for_every_name(host: Host) -> None:
    address = next(a for a in host.interface.default().addresses if ":" not in a)
    names = host.check_output(f"openssl x509 -noout -ext subjectAltName -in {CERT}")
    hostname = host.check_output("hostname")
    sans = (f"DNS:{hostname}", "DNS:localhost", f"IP Address:{address}", "IP Address:127.0.0.1")
    for san in sans:
        assert san in names, names
    assert "Verification: OK" in handshake(host, name="localhost")
    assert "Verification: OK" not in handshake(host, name="not-this-host.example")


def test_https_sends_hsts_and_the_security_headers(host: Host) -> None:
    hostname = host.check_output("hostname")
    for path, status in (("/echo", 200), ("/static/hello.txt", 200), ("/static/none", 404)):
        response = probe(host, f"https://{hostname}{path}", "--once", "--cafile", CA)
        headers = response["headers"]
        assert response["status"] == status, response
        assert headers.get("strict-transport-security") == "max-age=31536000", response
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (path, name, headers)


def test_http_sends_the_security_headers_without_hsts(host: Host) -> None:
    for path, status in (("/echo", 200), ("/static/hello.txt", 200), ("/static/none", 404)):
        response = probe(host, f"http://127.0.0.1{path}", "--once")
        assert response["status"] == status, response
        assert "strict-transport-security" not in response["headers"], response
        for name, value in SECURITY_HEADERS.items():
            assert response["headers"].get(name) == value, (path, name, response["headers"])


@pytest.mark.parametrize(("offered", "spoken"), [("", "h2"), ("--h1", "http/1.1")])
def test_https_speaks_http2_or_http_1_1_as_the_client_offers(
    host: Host, offered: str, spoken: str
) -> None:
    # h2load (Debian's nghttp2-client, installed by converge) offers the protocol by ALPN and
    # counts the answers: 4 requests at once on each of 2 connections, multiplexed over h2.
    report = host.check_output(
        f"h2load {offered} -n 40 -c 2 -m 4 https://127.0.0.1:443/static/hello.txt"
    )
    assert f"Application protocol: {spoken}" in report, report
    assert "40 succeeded, 0 failed" in report, report
    assert "status codes: 40 2xx" in report, report


def test_oversize_headers_get_4xx_not_5xx(host: Host) -> None:
    big = probe(host, "http://127.0.0.1/echo", "--once", "--header", f"X-Big:{'a' * 9000}")
    many = [f"X-Many-{i}:{'b' * 7000}" for i in range(6)]
    crowded = probe(
        host, "http://127.0.0.1/echo", "--once", *(o for h in many for o in ("--header", h))
    )
    long_line = probe(host, f"http://127.0.0.1/{'c' * 9000}", "--once")
    assert (big["status"], crowded["status"], long_line["status"]) == (400, 400, 414)


def test_key_is_root_owned_and_not_world_readable(host: Host) -> None:
    key = host.file(KEY)
    assert key.user == "root"
    assert key.group == "ssl-cert"
    assert key.mode == 0o640


def test_nginx_runs_sandboxed(host: Host) -> None:
    show = host.check_output(
        "systemctl show nginx -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet"
    )
    assert "NoNewPrivileges=yes" in show
    assert "ProtectSystem=strict" in show
    assert "cap_sys_admin" not in show
    exposure = host.check_output("systemd-analyze security nginx.service --no-pager | tail -1")
    score = float(re.search(r"level for nginx.service: ([\d.]+)", exposure)[1])
    assert score <= 5.0, exposure
    master = host.file("/run/nginx.pid").content_string.strip()
    assert re.search(r"^NoNewPrivs:\s+1", host.file(f"/proc/{master}/status").content_string, re.M)
