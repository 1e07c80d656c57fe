"""The API under hostile input, through nginx as a client meets it: schemathesis generates
valid and invalid requests from the deployed /openapi.json; no answer is a 5xx, every answer
is one the schema documents (status, content type, headers, body), and none carries a stack
trace or SQL. The controller is exempt from nginx's rate limit (molecule.yml)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from testinfra.host import Host

testinfra_hosts = ["hiload-mol-single"]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Bounded: a fixed seed and few cases per operation keep the run to about a minute.
MAX_EXAMPLES = 50
SEED = 8
# GET/POST /items, /items/{id} (GET, PATCH, DELETE), /items/stats, /items/export, /healthz, /readyz.
OPERATIONS = 9
# What a leaked traceback or query looks like in a response body.
LEAK = re.compile(
    r"Traceback|File \"/|asyncpg|psycopg|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b",
    re.S,
)


@pytest.fixture(scope="module")
def fuzzed(host: Host, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    address = host.check_output("hostname -I").split()[0]
    reports = tmp_path_factory.mktemp("schemathesis")
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"http://{address}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "har",
            "--report-har-path",
            str(reports / "run.har"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    return output, reports / "run.har"


def test_every_operation_is_fuzzed_without_failure(fuzzed: tuple[str, Path]) -> None:
    output, _ = fuzzed
    # The exit status said no check failed; these say there was something to check.
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    assert tested, output[-4000:]
    assert int(tested[1]) >= OPERATIONS, output[-4000:]
    assert cases, output[-4000:]
    assert int(cases[1]) >= OPERATIONS * MAX_EXAMPLES // 2, output[-4000:]


def test_no_response_shows_a_stack_trace_or_sql(fuzzed: tuple[str, Path]) -> None:
    _, har = fuzzed
    entries = json.loads(har.read_text())["log"]["entries"]
    assert entries, "schemathesis recorded no exchange"
    leaks = [
        (entry["request"]["method"], entry["request"]["url"], entry["response"]["status"])
        for entry in entries
        if LEAK.search(entry["response"].get("content", {}).get("text", "") or "")
    ]
    assert not leaks, leaks[:10]
